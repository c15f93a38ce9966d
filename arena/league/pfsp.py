"""Prioritized fictitious self-play (PFSP): which past snapshot a learner meets next.

AlphaStar (Vinyals et al. 2019) draws a learner's opponent from a pool with probability
proportional to f(x), x being the learner's recent win rate against that opponent. The "hard"
weighting f(x) = (1 - x)^p (p = 2, AlphaStar's `squared`) draws most the opponents the learner
beats least and all but drops those it always beats; p = 1 is `linear`, p = 0 uniform. An
opponent never met counts as x = 0.5. When every weight is zero (the learner beats the whole
pool every time) the draw is uniform.

Win rates are exponentially decayed tallies, as in AlphaStar's payoff table: before each new
result of a pair its games and wins are multiplied by `decay` (0.99), so the rate follows the
learner as it changes instead of averaging over its whole history.
"""

from __future__ import annotations

import numpy as np

DECAY = 0.99  # AlphaStar's payoff decay: a result's weight halves after ~69 newer ones
UNSEEN = 0.5  # the win rate assumed against an opponent never met


def pfsp_weights(win_rates, power: float = 2.0) -> np.ndarray:
    """Probabilities of drawing each opponent, proportional to (1 - win rate)^power."""
    x = np.asarray(win_rates, np.float64)
    if x.ndim != 1 or not len(x):
        raise ValueError("PFSP needs the win rates of a non-empty pool")
    if power < 0:
        raise ValueError(f"the PFSP power must be >= 0, got {power}")
    weights = np.clip(1.0 - x, 0.0, 1.0) ** power
    total = weights.sum()
    if total < 1e-10:
        return np.full(len(x), 1.0 / len(x))
    return weights / total


class Payoff:
    """A learner's decayed results against each opponent of its pool, by opponent name."""

    def __init__(self, decay: float = DECAY):
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"the payoff decay must be in (0, 1], got {decay}")
        self.decay = decay
        self.wins: dict[str, float] = {}  # a draw counts half a win
        self.games: dict[str, float] = {}

    def add(self, opponent: str, score: float) -> None:
        """One result against `opponent`: 1 a win, 0.5 a draw, 0 a loss."""
        self.wins[opponent] = self.wins.get(opponent, 0.0) * self.decay + score
        self.games[opponent] = self.games.get(opponent, 0.0) * self.decay + 1.0

    def win_rate(self, opponent: str) -> float:
        games = self.games.get(opponent, 0.0)
        return self.wins[opponent] / games if games > 0 else UNSEEN

    def weights(self, pool: list[str], power: float = 2.0) -> np.ndarray:
        """PFSP probabilities over `pool` (opponent names)."""
        return pfsp_weights([self.win_rate(name) for name in pool], power)

    def to_json(self) -> dict:
        return {"decay": self.decay, "wins": dict(self.wins), "games": dict(self.games)}

    @classmethod
    def from_json(cls, data: dict) -> Payoff:
        payoff = cls(float(data["decay"]))
        payoff.wins = {str(k): float(v) for k, v in data["wins"].items()}
        payoff.games = {str(k): float(v) for k, v in data["games"].items()}
        return payoff
