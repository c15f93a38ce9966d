"""What a memoryless policy adds to its view: a mark on the cell it came from.

A policy that sees a 7x7 window and remembers nothing cannot tell, at a junction of a maze,
which branch it just left, so a greedy one walks back and forth. The engine keeps each agent's
last move (`State.last_move`), which the agent itself knows; `memory="last_move"` draws it into
the view as a fourth channel: 1 on the cell behind the agent (where its last move started), 0
elsewhere. With it a reactive policy can keep a heading, e.g. follow a wall through a maze.
"""

from __future__ import annotations

import numpy as np

from agents.base import Observations
from worlds.scenario import DELTAS

MEMORIES = ("none", "last_move")


def check_memory(algo: str, memory: str) -> int:
    """The number of channels `memory` adds to the view (0 or 1); unknown names fail."""
    if memory not in MEMORIES:
        raise ValueError(f"{algo}: memory must be one of {MEMORIES}, got {memory!r}")
    return int(memory != "none")


def with_memory(obs: Observations, memory: str) -> np.ndarray:
    """The rows' views uint8[n, V, V, 3], plus the `last_move` channel when asked for."""
    if memory == "none":
        return obs.view
    n, V = len(obs), obs.view.shape[1]
    move = obs.last_moves().astype(np.int64)
    behind = np.zeros((n, V, V), dtype=np.uint8)
    rows = np.flatnonzero(move > 0)
    r = V // 2
    behind[rows, r - DELTAS[move[rows], 0], r - DELTAS[move[rows], 1]] = 1
    return np.concatenate([obs.view, behind[..., None]], axis=-1)
