"""What every scripted planner shares: the controller glue (rows in, legal actions out), the
memory between steps, and the plan each row followed, in words, for `thinking()`."""

from __future__ import annotations

import numpy as np

from agents.base import Observations, Thinking
from agents.planners.grid import UNREACHED, Board
from agents.planners.memory import Memory
from worlds.scenario import Scenario

# Why a row did what it did; `{whom}` is filled with the other agent's name.
PLAN_WORDS = (
    "go to the goal",
    "go to a plate",
    "wait on the plate",
    "wait at the closed gate",
    "wait for a free cell",
    "give way to {whom}",
    "random step to get unstuck",
    "no way to the target",
    "tag {whom}",
    "chase {whom}",
    "flee {whom}",
    "out of the game",
)
(
    GO_GOAL,
    GO_PLATE,
    ON_PLATE,
    AT_GATE,
    WAIT,
    GIVE_WAY,
    UNSTICK,
    NO_PATH,
    TAG,
    CHASE,
    FLEE,
    OUT,
) = range(len(PLAN_WORDS))


class Planner:
    """A scripted controller that reads the global state. Subclasses implement `decide`, which
    returns board-shaped arrays (one entry per world on the board and agent):

    * actions int[Bw, N], legal by the board's masks;
    * q float[Bw, N, A]: the planner's value of each action (nan for illegal ones);
    * plan int[Bw, N] (PLAN_WORDS codes) and whom int[Bw, N] (the agent it is about, -1).
    """

    name = "planner"
    plan_words: tuple[str, ...] = PLAN_WORDS  # what its plan codes mean; a planner may bring its own

    def __init__(self, scenario: Scenario, seed: int | None = None):
        self.scenario = scenario
        self.rng = np.random.default_rng(seed)
        self.memory = Memory()
        self._last: tuple | None = None

    def act(self, obs: Observations) -> np.ndarray:
        if obs.scenario.name != self.scenario.name:
            raise ValueError(
                f"a {self.scenario.name} planner cannot act in {obs.scenario.name}; "
                f"make one with make_planner(scenario)"
            )
        if len(obs) == 0:
            self._last = None
            return np.zeros(0, dtype=np.int64)
        board = Board.of(obs)
        actions, q, plan, whom = self.decide(board, obs)
        rows = board.slot, board.agent
        chosen = actions[rows].astype(np.int64)
        self._last = (chosen, q[rows], plan[rows], whom[rows], np.asarray(obs.action_mask, dtype=bool))
        return chosen

    def decide(self, board: Board, obs: Observations):
        raise NotImplementedError

    def thinking(self) -> Thinking | None:
        """Probability 1 on the chosen action (nan on illegal ones); extras: `q` float32[n, A],
        the planner's value of each action (see the planner's docstring), and `plan`, the reason
        for each row's action in words."""
        if self._last is None:
            return None
        chosen, q, plan, whom, legal = self._last
        probs = np.where(legal, 0.0, np.nan).astype(np.float32)
        probs[np.arange(len(chosen)), chosen] = 1.0
        names = self.scenario.agent_names
        words = [
            self.plan_words[p].format(whom=names[w] if w >= 0 else "nobody")
            for p, w in zip(plan.tolist(), whom.tolist(), strict=True)
        ]
        q = np.where(legal, q, np.nan).astype(np.float32)
        return Thinking("probs", probs, {"q": q, "plan": words})


def path_values(next_dist: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """Minus the remaining path length after each move (1 + the distance from the cell it leads
    to), nan where the move is illegal or leads nowhere near the target, float32[..., A]."""
    q = -(1.0 + next_dist.astype(np.float32))
    return np.where(legal & (next_dist < UNREACHED), q, np.nan).astype(np.float32)
