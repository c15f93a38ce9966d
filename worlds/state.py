"""The world state: plain numpy arrays with a leading batch dimension B (one row per world).

Positions are (row, col) in map coordinates. `terrain` carries a margin of VOID cells `pad`
wide on every side, so a view window or a step never indexes outside the array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # the scenario's own arrays, each with the batch dimension first (apples' regrowth clock,
    # inventories, messages, levels, flags...): named in `Scenario.extra_state`
    extra: dict[str, np.ndarray] = field(default_factory=dict)

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
            {name: array[idx].copy() for name, array in self.extra.items()},
        )

    def put(self, idx: np.ndarray, other: State) -> None:
        """Overwrite worlds `idx` with the worlds of `other` (same sizes)."""
        self.terrain[idx] = other.terrain
        self.pos[idx] = other.pos
        self.alive[idx] = other.alive
        self.goal[idx] = other.goal
        self.t[idx] = other.t
        self.last_move[idx] = other.last_move
        for name, array in self.extra.items():
            array[idx] = other.extra[name]

    def copy(self) -> State:
        return self.world(slice(None))

    @classmethod
    def concat(cls, states: list[State]) -> State:
        """One state of the worlds of `states`, in order (batches stepped apart, joined)."""
        first = states[0]
        return cls(
            *(np.concatenate([getattr(s, name) for s in states]) for name in CORE_FIELDS[:5]),
            first.pad,
            np.concatenate([s.last_move for s in states]),
            {name: np.concatenate([s.extra[name] for s in states]) for name in first.extra},
        )

    def to_dict(self) -> dict[str, np.ndarray]:
        """Copies of every array (a snapshot that later steps do not change); the scenario's
        own arrays under `extra.NAME`, so the dict is flat (npz and safetensors take it)."""
        data = {name: np.array(getattr(self, name)) for name in CORE_FIELDS}
        data["pad"] = np.array(self.pad)
        data.update({f"extra.{name}": np.array(array) for name, array in self.extra.items()})
        return data

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
            extra=_extra_of(data),
        )


def _extra_of(data: dict) -> dict[str, np.ndarray]:
    """The scenario's arrays: flat `extra.NAME` keys (`to_dict`) or an `extra` dict."""
    nested = data.get("extra") or {}
    flat = {k.removeprefix("extra."): v for k, v in data.items() if k.startswith("extra.")}
    return {name: np.array(array) for name, array in {**nested, **flat}.items()}


CORE_FIELDS = ("terrain", "pos", "alive", "goal", "t", "last_move")


def _array_or_none(value, dtype) -> np.ndarray | None:
    return None if value is None else np.array(value, dtype=dtype)
