"""A seat driven by a causal language model (after GLAM and TWOSOME).

Each step the controller turns every row's text view into a prompt (`agents.lm.prompt`), scores
every action string's log-likelihood after it (`agents.lm.scoring`), and takes a softmax over
the legal actions only (temperature `temperature`): it samples from it, or takes its argmax
with `greedy=True`. Illegal actions get probability 0 and are never chosen. The probabilities
are what `thinking()` shows the viewer and replays.

The recent-actions line of the prompt comes from `Observations.history` when the caller fills
it, else from the controller's own memory of what each (world, agent) did this episode.

Two optional companions: a `TeamChannel` (`agents.lm.talk`: teammates' messages in the prompt,
and a message chosen after every action) and a `Recall` of a knowledge base
(`agents.lm.recall`: similar past situations as a prior on the action and, if asked, as prompt
lines; `episode_over` files what the episode taught).
"""

from __future__ import annotations

import numpy as np
import torch

from agents.base import Observations, Thinking, masked_probs
from agents.checkpoint import pick_device
from agents.lm.model import load_model
from agents.lm.prompt import HISTORY_LENGTH, Prompt, build_prompt
from agents.lm.scoring import Scorer
from agents.lm.talk import TeamChannel, message_prompts, messages
from worlds.scenario import Scenario


class LMController:
    """Acts on `Observations` with a language model; see the module docstring."""

    name = "lm"

    def __init__(
        self,
        model,
        tokenizer,
        scenario: Scenario,
        seed: int | None = None,
        normalize: str = "sum",
        temperature: float = 1.0,
        greedy: bool = False,
        model_name: str = "custom",
        channel: TeamChannel | None = None,
        recall=None,
    ):
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.model, self.tokenizer, self.scenario = model, tokenizer, scenario
        self.scorer = Scorer(model, tokenizer, scenario.actions, normalize)
        self.temperature, self.greedy, self.model_name = temperature, greedy, model_name
        self.rng = np.random.default_rng(seed)
        self.memory: dict[tuple[int, int], list[str]] = {}
        self._last: Thinking | None = None
        self.recall = recall  # agents.lm.recall.Recall | None
        self.channel: TeamChannel | None = None
        self.join(channel)

    def join(self, channel: TeamChannel | None) -> None:
        """Talk on `channel` (None: stay silent); candidate messages the tokenizer cannot spell
        are left out."""
        self.channel, self.messages, self.say_scorer = channel, (), None
        if channel is None:
            return
        unk = self.tokenizer.unk_token_id
        self.messages = tuple(
            m
            for m in messages(self.scenario)
            if unk not in self.tokenizer(" " + m.text, add_special_tokens=False)["input_ids"]
        )
        self.say_scorer = Scorer(
            self.model, self.tokenizer, [m.text for m in self.messages], self.scorer.normalize
        )

    @property
    def device(self) -> torch.device:
        return self.scorer.device

    def prompts(self, obs: Observations, texts: list[str] | None = None, vectors=None) -> list[Prompt]:
        """Every row's prompt; starts a fresh memory for rows at step 0 of an episode."""
        texts = obs.texts() if texts is None else texts
        context = self.context(obs, vectors)
        if obs.history is not None:
            return [build_prompt(t, h, c) for t, h, c in zip(texts, obs.history, context, strict=True)]
        keys = obs.seats()
        for key, t in zip(keys, obs.steps().tolist(), strict=True):
            if t == 0 or key not in self.memory:
                self.memory[key] = []
        return [build_prompt(t, self.memory[k], c) for t, k, c in zip(texts, keys, context, strict=True)]

    def context(self, obs: Observations, vectors=None) -> list[list[str]]:
        """Per row, the extra prompt lines: teammates' messages, then recalled memories."""
        out: list[list[str]] = [[] for _ in range(len(obs))]
        if self.channel is not None:
            steps = obs.steps().tolist()
            for row, ((world, agent), t) in enumerate(zip(obs.seats(), steps, strict=True)):
                out[row] += self.channel.heard(world, agent, t)
        if self.recall is not None and vectors is not None:
            for row, lines in enumerate(self.recall.prompt_lines(vectors)):
                out[row] += lines
        return out

    @torch.no_grad()
    def probs(self, obs: Observations) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities float32[n, A] with 0 on illegal actions, raw scores float32[n, A])."""
        probs, scores, _ = self._decide(obs)
        return probs, scores

    def _decide(self, obs: Observations):
        """(probabilities, raw scores, prompts) with the knowledge base's recall mixed in."""
        texts = obs.texts()
        vectors = self.recall.vectors(texts) if self.recall is not None else None
        prompts = self.prompts(obs, texts, vectors)
        scores = self.scorer.score(prompts).scores.float().cpu().numpy()
        probs = masked_probs(scores / self.temperature, obs.action_mask)
        if self.recall is not None:
            probs = self.recall.blend(probs, vectors, obs.action_mask)
            self._noted = (texts, vectors)
        return probs, scores, prompts

    @torch.no_grad()
    def act(self, obs: Observations, explore: bool = True) -> np.ndarray:
        probs, scores, prompts = self._decide(obs)
        greedy = self.greedy or not explore
        actions = self.choose(probs, greedy=greedy)
        self.remember(obs, actions)
        shown = np.where(obs.action_mask.astype(bool), probs, np.nan).astype(np.float32)
        extras = {"scores": scores, "model": self.model_name}
        if self.channel is not None:
            extras["say"] = self.talk(obs, prompts, actions, greedy)
        if self.recall is not None:
            cells = obs.state.pos[obs.world, obs.agent]
            self.recall.note(obs.seats(), obs.steps(), self._noted[1], self._noted[0], actions, cells)
        self._last = Thinking("probs", shown, extras)
        return actions

    def talk(self, obs: Observations, prompts: list[Prompt], actions: np.ndarray, greedy: bool) -> list[str]:
        """Each row's message (scored after its prompt and chosen action), posted on the channel."""
        names = [self.scenario.actions[a] for a in actions.tolist()]
        bodies = message_prompts([p.body for p in prompts], names)
        said = [Prompt(p.prefix, b) for p, b in zip(prompts, bodies, strict=True)]
        scores = self.say_scorer.score(said).scores.float().cpu().numpy()
        probs = masked_probs(scores / self.temperature, np.ones_like(scores, dtype=np.int8))
        texts = [self.messages[k].text for k in self.choose(probs, greedy).tolist()]
        for (world, agent), t, text in zip(obs.seats(), obs.steps().tolist(), texts, strict=True):
            self.channel.say(world, agent, t, text)
        return texts

    def episode_over(self, world: int, success: bool, steps: int, returns: dict[int, float]) -> None:
        """An episode of `world` ended: the knowledge base files what it taught (if any)."""
        if self.recall is not None:
            self.recall.episode_over(world, success, steps, returns)

    def choose(self, probs: np.ndarray, greedy: bool) -> np.ndarray:
        """Argmax or a sample per row; an action of probability 0 is never drawn."""
        if greedy:
            return probs.argmax(-1).astype(np.int64)
        cum = np.cumsum(probs.astype(np.float64), -1)
        u = self.rng.random(len(probs)) * cum[:, -1]
        return (cum > u[:, None]).argmax(-1).astype(np.int64)

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


def make_lm_controller(
    model_name: str, scenario: Scenario, seed: int | None = None, device="auto", **options
) -> LMController:
    """The controller for seat spec `lm:<model_name>`: `default` (the shipped model), `smollm2`
    (the optional extra), a model folder, or a hub id in the local cache."""
    model, tokenizer = load_model(model_name, pick_device(device))
    return LMController(model, tokenizer, scenario, seed=seed, model_name=model_name, **options)
