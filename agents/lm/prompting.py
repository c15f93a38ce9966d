"""What every language-model seat shares: the recent actions each agent took (shown in its
prompt), the hook through which others add context lines, and the choice of prompt style.

* Recent actions come from `Observations.history` when the caller fills it, else from the
  seat's own `memory` of what each (world, agent) did this episode (reset at step 0).
* `extra_context`: a callable `obs -> one list of lines per row` (retrieved memories, teammates'
  messages); its lines go into each row's prompt after the view (plain or chat alike). None by
  default: the prompt is then exactly the one the shipped model was trained on.
* Style: `chat="auto"` uses the tokenizer's chat template when it has one (`agents.lm.chat`),
  `"on"` requires one, `"off"` keeps the plain prompt of `agents.lm.prompt`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from agents.base import Observations, Thinking
from agents.lm.chat import Turns, has_chat_template, turns
from agents.lm.prompt import HISTORY_LENGTH, Prompt, build_prompt
from worlds.errors import ConfigError
from worlds.scenario import Scenario

ContextHook = Callable[[Observations], Sequence[Sequence[str]]]
CHAT = ("auto", "on", "off")


def use_chat(chat: str, tokenizer, who: str = "this model") -> bool:
    """Whether a seat renders chat prompts: `chat` is auto|on|off (see the module docstring)."""
    if chat not in CHAT:
        raise ConfigError(f"lm seat option chat must be one of {', '.join(CHAT)}, got {chat!r}")
    has = tokenizer is not None and has_chat_template(tokenizer)
    if chat == "on" and not has:
        raise ConfigError(f"lm seat option chat=on: {who} has no chat template (its tokenizer names none)")
    return has and chat != "off"


class PromptedSeat:
    """Prompt memory and context for an LM seat; subclasses choose the actions."""

    name = "lm"

    def __init__(self, scenario: Scenario, seed: int | None = None):
        self.scenario = scenario
        self.rng = np.random.default_rng(seed)
        self.memory: dict[tuple[int, int], list[str]] = {}
        self.extra_context: ContextHook | None = None
        self._last: Thinking | None = None

    def histories(self, obs: Observations) -> list[Sequence[str]]:
        """Each row's recent actions; starts a fresh memory for rows at step 0 of an episode."""
        if obs.history is not None:
            return list(obs.history)
        keys = obs.seats()
        for key, t in zip(keys, obs.steps().tolist(), strict=True):
            if t == 0 or key not in self.memory:
                self.memory[key] = []
        return [self.memory[k] for k in keys]

    def extras(self, obs: Observations) -> list[Sequence[str]]:
        """Each row's extra context lines from the hook (none without one)."""
        if self.extra_context is None:
            return [()] * len(obs)
        lines = list(self.extra_context(obs))
        if len(lines) != len(obs):
            raise ValueError(f"extra_context gave {len(lines)} rows of lines for {len(obs)} rows")
        return lines

    def turns(self, obs: Observations, generate: bool, think: bool = True) -> list[Turns]:
        """Each row's chat turns (system: the rules; user: the view and context)."""
        return [
            turns(obs.scenario, t, h, e, generate, think)
            for t, h, e in zip(obs.texts(), self.histories(obs), self.extras(obs), strict=True)
        ]

    def plain_prompts(self, obs: Observations) -> list[Prompt]:
        """Each row's plain prompt (`agents.lm.prompt`), ending with the cue `Action:`."""
        texts, histories, extras = obs.texts(), self.histories(obs), self.extras(obs)
        return [build_prompt(t, h, e) for t, h, e in zip(texts, histories, extras, strict=True)]

    def remember(self, obs: Observations, actions: np.ndarray) -> None:
        if obs.history is not None:
            return
        names = self.scenario.actions
        for key, a in zip(obs.seats(), actions.tolist(), strict=True):
            recent = self.memory.setdefault(key, [])
            recent.append(names[a])
            del recent[:-HISTORY_LENGTH]

    def thinking(self) -> Thinking | None:
        return self._last
