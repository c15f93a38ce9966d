"""Prompts for instruct (chat) models: the game's rules as the system turn, the text view as
the user's, rendered with the tokenizer's own chat template.

The two turns (`Turns`):

* system: what game this is and its rules (the Description, Actions, Rewards and Termination
  sections of the scenario's own docstring), the moves' meanings, and the answer format: a final
  line `ACTION: <action>` (`ANSWER_CUE`), after some reasoning when the seat generates.
* user: the plain prompt of `agents.lm.prompt` without its cue: the task, the legend, who and
  where, the view, others in view, the cell underfoot, any extra context (memories, teammates'
  messages), the recent actions, the legal actions and the goal's direction.

`render` turns them into a `Prompt` for the scorer: the template's text up to the end of the
legend (constant through an episode, so its key/value cache is reused) is the prefix; the rest,
then the template's generation prompt (the assistant's header) and, for scoring, the cue
`ACTION:`, is the body. Each action is then scored as the continuation " <action>", the answer a
generating seat is asked to write. The split falls after a line break inside the user turn, where
tokenizers start a new token. A template is rendered once per system text with a placeholder
for the user turn, then filled by string substitution (the placeholder must come out verbatim;
else every row is rendered on its own).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from agents.lm.prompt import CUE, Prompt, build_prompt
from worlds.scenario import Scenario

ANSWER_CUE = "ACTION:"
RULE_SECTIONS = ("Description", "Actions", "Rewards", "Termination")
MOVE_WORDS = {
    "noop": "stay where you are",
    "north": "move one cell up",
    "south": "move one cell down",
    "east": "move one cell right",
    "west": "move one cell left",
}
_PLACEHOLDER = "\x00USER-TURN\x00"


@dataclass(frozen=True)
class Turns:
    system: str  # the rules and the answer format: constant for a scenario and seat mode
    user: str  # this step's view, context and legal actions

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


def has_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


@functools.cache
def rules(scenario_module: str) -> str:
    """The rule sections of a scenario module's docstring, as plain paragraphs."""
    doc = sys.modules[scenario_module].__doc__ or ""
    sections: dict[str, list[str]] = {}
    current = None
    for line in doc.splitlines():
        heading = re.fullmatch(r"(\w[\w ]*):\s*", line)
        if heading:
            current = heading.group(1)
            sections[current] = []
        elif current is not None and line.strip():
            sections[current].append(line.strip().replace("`", ""))  # code quotes mean nothing here
    return "\n".join(f"{name}: {' '.join(sections[name])}" for name in RULE_SECTIONS if sections.get(name))


def system_text(scenario: Scenario, generate: bool, think: bool = True) -> str:
    """The system turn: the game, its rules, the actions and how to answer."""
    moves = ", ".join(f"{a} ({MOVE_WORDS[a]})" if a in MOVE_WORDS else a for a in scenario.actions)
    if generate and think:
        answer = (
            "Think step by step, briefly, about what you see and where to go; then end with a final "
            f"line `{ANSWER_CUE} <action>` naming one of the legal actions, e.g. `{ANSWER_CUE} north`."
        )
    else:
        answer = f"Answer with one line `{ANSWER_CUE} <action>` naming one of the legal actions."
    return (
        f"You are an agent in {scenario.name}, a game on a grid world. Each step you see the cells "
        "around you as rows of characters and choose one action.\n"
        f"{rules(type(scenario).__module__)}\n"
        f"Your actions: {moves}. Only the legal actions listed each step can be taken.\n{answer}"
    )


def user_text(text_view: str, history: Sequence[str] = (), extra: Sequence[str] = ()) -> str:
    """The user turn: the plain prompt without its cue."""
    text = build_prompt(text_view, history, extra).text
    return text[: -len(CUE)].rstrip("\n")


def turns(
    scenario: Scenario,
    text_view: str,
    history: Sequence[str] = (),
    extra: Sequence[str] = (),
    generate: bool = False,
    think: bool = True,
) -> Turns:
    return Turns(system_text(scenario, generate, think), user_text(text_view, history, extra))


class Renderer:
    """Renders `Turns` with a tokenizer's chat template into scorer `Prompt`s (see the module
    docstring); `cue` is appended after the generation prompt (scoring: `ANSWER_CUE`)."""

    def __init__(self, tokenizer, cue: str = ""):
        if not has_chat_template(tokenizer):
            raise ValueError("this tokenizer has no chat template")
        self.tokenizer, self.cue = tokenizer, cue
        self._frames: dict[str, tuple[str, str] | None] = {}

    def text(self, t: Turns) -> str:
        """The whole rendered conversation, up to the assistant's answer (and the cue)."""
        frame = self._frame(t.system)
        if frame is None:
            return self._render(t.system, t.user) + self.cue
        return frame[0] + t.user + frame[1] + self.cue

    def prompt(self, t: Turns) -> Prompt:
        """The scorer's prompt. A leading BOS the template writes is dropped: the scorer puts
        the tokenizer's BOS id in front of every prompt itself."""
        text = self.text(t)
        bos = self.tokenizer.bos_token
        if bos and text.startswith(bos):
            text = text[len(bos) :]
        start, split = text.find(t.user), _prefix_end(t.user)
        if start >= 0 and split > 0:
            return Prompt(text[: start + split], text[start + split :])
        # the template changed the user turn: split after its first line, still a token boundary
        cut = text.find("\n") + 1
        cut = cut if 0 < cut < len(text) else len(text) // 2
        return Prompt(text[:cut], text[cut:])

    def _frame(self, system: str) -> tuple[str, str] | None:
        if system not in self._frames:
            whole = self._render(system, _PLACEHOLDER)
            parts = whole.split(_PLACEHOLDER)
            self._frames[system] = (parts[0], parts[1]) if len(parts) == 2 else None
        return self._frames[system]

    def _render(self, system: str, user: str) -> str:
        try:
            messages = Turns(system, user).messages()
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:  # noqa: BLE001 - templates raise their own errors (Gemma: no system role)
            merged = [{"role": "user", "content": system + "\n\n" + user}]
            return self.tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)


def _prefix_end(user: str) -> int:
    """Length of the user turn's constant lines (the task and the legend), line break included."""
    end = 0
    for line in user.split("\n"):
        if not line.startswith(("Your task:", "You see ")):
            break
        end += len(line) + 1
    return min(end, len(user))
