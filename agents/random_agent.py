"""The random controller: a uniformly random legal action for every seat, from a seeded Generator."""

from __future__ import annotations

import numpy as np


class RandomAgent:
    """Acts on a batch of action masks int8[..., A]; never picks an illegal action."""

    name = "random"

    def __init__(self, seed: int | None = None):
        self.rng = np.random.default_rng(seed)

    def act(self, action_mask: np.ndarray) -> np.ndarray:
        # Gumbel-free trick: a random score per legal action, argmax picks one uniformly.
        scores = self.rng.random(action_mask.shape) * action_mask
        return scores.argmax(-1)
