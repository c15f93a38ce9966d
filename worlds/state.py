"""The world state: plain numpy arrays with a leading batch dimension B (one row per world).

Positions are (row, col) in map coordinates. `terrain` carries a margin of VOID cells `pad`
wide on every side, so a view window or a step never indexes outside the array.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def _row_base(worlds: int, height: int, width: int, pad: int) -> np.ndarray:
    """Flat index of each world's map origin (row 0, col 0 inside the margin), int[B, 1]."""
    return (np.arange(worlds) * (height * width) + pad * (width + 1))[:, None]


@dataclass
class State:
    terrain: np.ndarray  # uint8[B, H + 2*pad, W + 2*pad], cell codes; gates open in place
    pos: np.ndarray  # int32[B, N, 2]
    alive: np.ndarray  # bool[B, N]: still in the game (not terminated, truncated or removed)
    goal: np.ndarray  # int32[B, N, 2]: each agent's own goal cell, (-1, -1) if it has none
    t: np.ndarray  # int32[B]: steps taken this episode
    pad: int
    # int8[B, N]: each agent's last move that happened (the move action, 1..4), 0 before its
    # first; an agent's memory of where it came from, for policies that see only their view
    last_move: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.last_move is None:
            self.last_move = np.zeros(self.alive.shape, dtype=np.int8)

    @property
    def num_worlds(self) -> int:
        return self.pos.shape[0]

    @property
    def num_agents(self) -> int:
        return self.pos.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the map, without the margin."""
        return self.terrain.shape[1] - 2 * self.pad, self.terrain.shape[2] - 2 * self.pad

    def cell_index(self) -> np.ndarray:
        """Each agent's cell as a flat index into `terrain.reshape(-1)`, int[B, N]: with these a
        move or a view window is one add and one `take` in numpy (the engine's compiled kernels
        read `pos` directly)."""
        b, hp, wp = self.terrain.shape
        return self.pos[..., 0] * wp + self.pos[..., 1] + _row_base(b, hp, wp, self.pad)

    def cells(self) -> np.ndarray:
        """Terrain without the margin, uint8[B, H, W] (a view, not a copy)."""
        p = self.pad
        return self.terrain[:, p : self.terrain.shape[1] - p, p : self.terrain.shape[2] - p]

    def world(self, b: int | slice | np.ndarray) -> State:
        """The sub-state of some worlds (copies)."""
        idx = np.atleast_1d(np.arange(self.num_worlds)[b])
        return State(
            self.terrain[idx].copy(),
            self.pos[idx].copy(),
            self.alive[idx].copy(),
            self.goal[idx].copy(),
            self.t[idx].copy(),
            self.pad,
            self.last_move[idx].copy(),
        )

    def put(self, idx: np.ndarray, other: State) -> None:
        """Overwrite worlds `idx` with the worlds of `other` (same sizes)."""
        self.terrain[idx] = other.terrain
        self.pos[idx] = other.pos
        self.alive[idx] = other.alive
        self.goal[idx] = other.goal
        self.t[idx] = other.t
        self.last_move[idx] = other.last_move

    def copy(self) -> State:
        return self.world(slice(None))

    def to_dict(self) -> dict[str, np.ndarray]:
        """Copies of every field (a snapshot that later steps do not change)."""
        return {f.name: np.array(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> State:
        return cls(  # copies, so stepping the state never writes back into `data`
            terrain=np.array(data["terrain"], dtype=np.uint8),
            pos=np.array(data["pos"], dtype=np.int32),
            alive=np.array(data["alive"], dtype=bool),
            goal=np.array(data["goal"], dtype=np.int32),
            t=np.array(data["t"], dtype=np.int32),
            pad=int(data["pad"]),
            last_move=_array_or_none(data.get("last_move"), np.int8),  # absent before 0.2
        )


def _array_or_none(value, dtype) -> np.ndarray | None:
    return None if value is None else np.array(value, dtype=dtype)
