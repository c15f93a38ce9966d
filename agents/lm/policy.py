"""A seat driven by a causal language model (after GLAM and TWOSOME).

Each step the controller turns every row's text view into a prompt (`agents.lm.prompt`), scores
every action string's log-likelihood after it (`agents.lm.scoring`), and takes a softmax over
the legal actions only (temperature `temperature`): it samples from it, or takes its argmax
with `greedy=True`. Illegal actions get probability 0 and are never chosen. The probabilities
are what `thinking()` shows the viewer and replays.

The recent-actions line of the prompt comes from `Observations.history` when the caller fills
it, else from the controller's own memory of what each (world, agent) did this episode.
"""

from __future__ import annotations

import numpy as np
import torch

from agents.base import Observations, Thinking, masked_probs
from agents.checkpoint import pick_device
from agents.lm.model import load_model
from agents.lm.prompt import HISTORY_LENGTH, Prompt, build_prompt
from agents.lm.scoring import Scorer
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
    ):
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.model, self.tokenizer, self.scenario = model, tokenizer, scenario
        self.scorer = Scorer(model, tokenizer, scenario.actions, normalize)
        self.temperature, self.greedy, self.model_name = temperature, greedy, model_name
        self.rng = np.random.default_rng(seed)
        self.memory: dict[tuple[int, int], list[str]] = {}
        self._last: Thinking | None = None

    @property
    def device(self) -> torch.device:
        return self.scorer.device

    def prompts(self, obs: Observations) -> list[Prompt]:
        """Every row's prompt; starts a fresh memory for rows at step 0 of an episode."""
        texts = obs.texts()
        if obs.history is not None:
            return [build_prompt(t, h) for t, h in zip(texts, obs.history, strict=True)]
        keys = obs.seats()
        for key, t in zip(keys, obs.steps().tolist(), strict=True):
            if t == 0 or key not in self.memory:
                self.memory[key] = []
        return [build_prompt(t, self.memory[k]) for t, k in zip(texts, keys, strict=True)]

    @torch.no_grad()
    def probs(self, obs: Observations) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities float32[n, A] with 0 on illegal actions, raw scores float32[n, A])."""
        scores = self.scorer.score(self.prompts(obs)).scores.float().cpu().numpy()
        return masked_probs(scores / self.temperature, obs.action_mask), scores

    def act(self, obs: Observations, explore: bool = True) -> np.ndarray:
        probs, scores = self.probs(obs)
        actions = self.choose(probs, greedy=self.greedy or not explore)
        self.remember(obs, actions)
        shown = np.where(obs.action_mask.astype(bool), probs, np.nan).astype(np.float32)
        self._last = Thinking("probs", shown, {"scores": scores, "model": self.model_name})
        return actions

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
