"""A seat driven by a causal language model that scores the legal actions (after GLAM and TWOSOME).

Each step the controller turns every row's text view into a prompt: the plain one of
`agents.lm.prompt`, or, for a model whose tokenizer has a chat template (`chat="auto"`), the
system and user turns of `agents.lm.chat` rendered with it and followed by the answer cue
`ACTION:`. It scores every action string's log-likelihood after the prompt
(`agents.lm.scoring`) and takes a softmax over the legal actions only (temperature
`temperature`): it samples from it, or takes its argmax with `greedy=True`. Illegal actions get
probability 0 and are never chosen. The probabilities are what `thinking()` shows the viewer and
replays. Recent actions and extra context lines come from `agents.lm.prompting.PromptedSeat`.
"""

from __future__ import annotations

import numpy as np
import torch

from agents.base import Observations, Thinking, masked_probs
from agents.checkpoint import pick_device
from agents.lm.chat import ANSWER_CUE, Renderer
from agents.lm.model import load_model
from agents.lm.prompt import Prompt
from agents.lm.prompting import PromptedSeat, use_chat
from agents.lm.scoring import Scorer
from worlds.scenario import Scenario


class LMController(PromptedSeat):
    """Acts on `Observations` with a language model; see the module docstring."""

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
        chat: str = "auto",
    ):
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        super().__init__(scenario, seed)
        self.model, self.tokenizer = model, tokenizer
        self.scorer = Scorer(model, tokenizer, scenario.actions, normalize)
        self.temperature, self.greedy, self.model_name = temperature, greedy, model_name
        self.renderer = Renderer(tokenizer, ANSWER_CUE) if use_chat(chat, tokenizer, model_name) else None

    @property
    def device(self) -> torch.device:
        return self.scorer.device

    def prompts(self, obs: Observations) -> list[Prompt]:
        """Every row's prompt; starts a fresh memory for rows at step 0 of an episode."""
        if self.renderer is not None:
            return [self.renderer.prompt(t) for t in self.turns(obs, generate=False)]
        return self.plain_prompts(obs)

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
        return choose(probs, greedy, self.rng)


def choose(probs: np.ndarray, greedy: bool, rng: np.random.Generator) -> np.ndarray:
    """Argmax or a sample per row; an action of probability 0 is never drawn."""
    if greedy:
        return probs.argmax(-1).astype(np.int64)
    cum = np.cumsum(probs.astype(np.float64), -1)
    u = rng.random(len(probs)) * cum[:, -1]
    return (cum > u[:, None]).argmax(-1).astype(np.int64)


def make_lm_controller(
    model_name: str, scenario: Scenario, seed: int | None = None, device="auto", **options
) -> LMController:
    """A scoring controller for a model: `default` (the shipped model), `smollm2` (the optional
    extra), a model folder, or a hub id in the local cache. (`agents.lm.spec` builds every kind
    of LM seat from a seat spec.)"""
    model, tokenizer = load_model(model_name, pick_device(device))
    return LMController(model, tokenizer, scenario, seed=seed, model_name=model_name, **options)
