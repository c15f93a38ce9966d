"""The random controller: a uniformly random legal action for every seat, from a seeded Generator."""

from __future__ import annotations

import numpy as np

from agents.base import Observations, Thinking, masked_probs


class RandomAgent:
    """Acts on `Observations` (or a bare action mask int8[..., A]); never picks an illegal action."""

    name = "random"

    def __init__(self, seed: int | None = None):
        self.rng = np.random.default_rng(seed)
        self._last: np.ndarray | None = None

    def act(self, obs: Observations | np.ndarray) -> np.ndarray:
        mask = obs.action_mask if isinstance(obs, Observations) else obs
        self._last = mask
        # A random score per legal action: the argmax picks one uniformly.
        scores = self.rng.random(mask.shape) * mask
        return scores.argmax(-1)

    def thinking(self) -> Thinking | None:
        if self._last is None:
            return None
        return Thinking("probs", masked_probs(np.zeros(self._last.shape, np.float32), self._last))
