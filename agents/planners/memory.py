"""What a planner remembers between steps, per (world, agent) of the state it last acted in:
where each agent stood, whether it wanted to move, how long it has been stuck and whom it gave
way to. A new episode in a world (its step count going back) forgets that world."""

from __future__ import annotations

import numpy as np

from agents.planners.grid import Board


class Memory:
    def __init__(self):
        self.shape: tuple[int, int] | None = None

    def _fresh(self, worlds: int, agents: int) -> None:
        self.shape = (worlds, agents)
        self.t = np.full(worlds, -1, dtype=np.int64)
        self.here = np.full((worlds, agents), -1, dtype=np.int64)
        self.wanted = np.zeros((worlds, agents), dtype=bool)
        self.stall = np.zeros((worlds, agents), dtype=np.int64)
        self.gave_way = np.full((worlds, agents), -1, dtype=np.int64)

    def recall(self, board: Board, t: np.ndarray, num_worlds: int) -> tuple[np.ndarray, np.ndarray]:
        """Steps each agent has been stuck (wanted to move, stood still) and the agent each gave
        way to on the last step (-1 none), both int[Bw, N] for the board's worlds."""
        if self.shape != (num_worlds, board.shape[1]):
            self._fresh(num_worlds, board.shape[1])
        w = board.worlds
        t = np.asarray(t)[w]
        same = (t >= self.t[w])[:, None]  # the step count did not go back: the same episode
        still = same & self.wanted[w] & (self.here[w] == board.here)
        stall = np.where(still, self.stall[w] + 1, 0)
        gave_way = np.where(same, self.gave_way[w], -1)
        self.t[w] = t
        return stall, gave_way

    def remember(self, board: Board, wanted: np.ndarray, stall: np.ndarray, gave_way: np.ndarray) -> None:
        """Store the rows' decisions (board-shaped arrays; only the observation rows are kept,
        since the planner does not know what other controllers' agents meant to do)."""
        w, s, i = board.worlds, board.slot, board.agent
        self.here[w[s], i] = board.here[s, i]
        self.wanted[w[s], i] = wanted[s, i]
        self.stall[w[s], i] = stall[s, i]
        self.gave_way[w[s], i] = gave_way[s, i]
