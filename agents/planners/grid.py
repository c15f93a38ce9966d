"""The planners' view of the worlds they act in: flat padded grids and breadth-first distance
fields computed for many grids and many targets at once.

Cells are flat indices into one world's padded terrain (`(row + pad) * width + col + pad`,
`width` counting the VOID margin), so a move is one add and a distance lookup one `take`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worlds.cells import PASSABLE
from worlds.scenario import DELTAS

UNREACHED = 1 << 20  # the distance of a cell no source reaches (any real distance is smaller)


def distance_fields(passable: np.ndarray, sources: np.ndarray, width: int) -> np.ndarray:
    """Steps from the nearest source cell to every cell, for K grids at once, int32[K, C].

    `passable` and `sources` are bool[K, C] over flat grids `width` cells wide whose border cells
    are never passable (the VOID margin): a flat shift by one then never leaks from one row (or
    grid) into the next. Sources need not be passable themselves (a closed gate, say); unreached
    cells get UNREACHED. One vectorized breadth-first wave per step of distance, so at most C."""
    passable = np.asarray(passable, dtype=bool)
    K, C = passable.shape
    if C % width or C // width < 3 or width < 3:
        raise ValueError(f"grids of {C} cells are not rows of width {width} with a border")
    grid = passable.reshape(K, C // width, width)
    if grid[:, [0, -1]].any() or grid[:, :, [0, -1]].any():
        raise ValueError("distance_fields needs grids whose border cells are not passable")
    open_ = passable.reshape(-1)
    frontier = np.asarray(sources, dtype=bool).reshape(-1).copy()
    unreached = ~frontier
    dist = np.zeros(open_.size, dtype=np.int32)
    grown = np.empty_like(frontier)
    while True:
        # The cells next to the frontier: four flat shifts (north/south by `width`).
        grown[:1] = False
        grown[1:] = frontier[:-1]
        grown[:-1] |= frontier[1:]
        grown[width:] |= frontier[:-width]
        grown[:-width] |= frontier[width:]
        grown &= open_
        grown &= unreached
        if not grown.any():
            break
        dist += unreached  # every cell still unreached is one step further than the last wave
        unreached ^= grown
        frontier, grown = grown, frontier
    dist[unreached] = UNREACHED
    return dist.reshape(K, C)


def target_fields(cells: np.ndarray, valid: np.ndarray, passable: np.ndarray, width: int) -> np.ndarray:
    """One field per target cell: cells int[Bw, T] (flat), valid bool[Bw, T], passable
    bool[Bw, T, C] -> int32[Bw, T, C]; an invalid target's field is all UNREACHED."""
    Bw, T, C = passable.shape
    sources = np.zeros((Bw, T, C), dtype=bool)
    b, t = np.nonzero(valid)
    sources[b, t, cells[b, t]] = True
    grids = np.ascontiguousarray(passable).reshape(Bw * T, C)
    return distance_fields(grids, sources.reshape(Bw * T, C), width).reshape(Bw, T, C)


def look(fields: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Values of fields [..., C] at flat cells [..., M] (leading axes broadcast), [..., M]."""
    fields = np.ascontiguousarray(fields)
    C = fields.shape[-1]
    # The flat start of each field (broadcast like its leading axes), plus the cell: one take.
    starts = np.arange(0, fields.size, C).reshape(*fields.shape[:-1], 1)
    return np.take(fields.reshape(-1), starts + cells)


@dataclass
class Board:
    """The worlds some rows of `Observations` live in, as flat grids (one board row per world)."""

    worlds: np.ndarray  # int[Bw]: each board row's world index in the state
    terrain: np.ndarray  # uint8[Bw, C]
    passable: np.ndarray  # bool[Bw, C]
    here: np.ndarray  # int[Bw, N]: every agent's flat cell
    alive: np.ndarray  # bool[Bw, N]
    legal: np.ndarray  # bool[Bw, N, A]: the rows' own masks; for other agents, moves onto passable cells
    slot: np.ndarray  # int[n]: the board row of each observation row
    agent: np.ndarray  # int[n]: the agent of each observation row
    width: int
    pad: int
    steps: np.ndarray  # int[5]: flat offsets of noop, north, south, east, west

    @classmethod
    def of(cls, obs) -> Board:
        state, scenario = obs.state, obs.scenario
        worlds, slot = np.unique(obs.world, return_inverse=True)
        slot = slot.reshape(-1)
        whole = len(worlds) == state.num_worlds
        pick = slice(None) if whole else worlds
        terrain = state.terrain[pick]
        Bw, width, pad = len(worlds), state.terrain.shape[2], state.pad
        flat = terrain.reshape(Bw, -1)
        pos = state.pos[pick].astype(np.int64)
        steps = DELTAS.astype(np.int64) @ np.array([width, 1])
        agent = np.asarray(obs.agent, dtype=np.int64)
        here = (pos[..., 0] + pad) * width + pos[..., 1] + pad
        # Rows bring their own masks; other agents (whose moves are only predicted) may move
        # onto any passable cell and use no interaction.
        passable = np.take(PASSABLE, flat)
        legal = np.zeros((Bw, pos.shape[1], len(scenario.actions)), dtype=bool)
        legal[..., :5] = look(passable[:, None, :], here[..., None] + steps)
        legal &= state.alive[pick][..., None]
        legal[..., 0] = True
        legal[slot, agent] = np.asarray(obs.action_mask, dtype=bool)
        return cls(
            worlds=worlds,
            terrain=flat,
            passable=passable,
            here=here,
            alive=state.alive[pick].copy(),
            legal=legal,
            slot=slot,
            agent=agent,
            width=width,
            pad=pad,
            steps=steps,
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(worlds, agents) on this board."""
        return self.here.shape

    def cells(self, rc: np.ndarray) -> np.ndarray:
        """Flat cells of map positions int[..., 2] (row, col)."""
        rc = np.asarray(rc, dtype=np.int64)
        return (rc[..., 0] + self.pad) * self.width + rc[..., 1] + self.pad

    def fields(
        self,
        cells: np.ndarray,
        valid: np.ndarray | None = None,
        passable: np.ndarray | None = None,
        cache: FieldCache | None = None,
    ) -> np.ndarray:
        """One distance field per target: cells int[Bw, T] -> int32[Bw, T, C]; targets with
        `valid` False get an all-UNREACHED field. `passable` bool[Bw, C] (one per world) or
        bool[Bw, T, C] (one per target) overrides the terrain's. With a `cache`, only worlds
        whose targets or passable cells changed since its last call are searched again."""
        Bw, T = cells.shape
        C = self.terrain.shape[1]
        valid = np.ones((Bw, T), dtype=bool) if valid is None else valid
        passable = self.passable if passable is None else passable
        if passable.ndim == 2:
            passable = passable[:, None]
        passable = np.broadcast_to(passable, (Bw, T, C))
        if cache is not None:
            return cache.fields(self.worlds, cells, valid, passable, self.width)
        return target_fields(cells, valid, passable, self.width)

    def next_cells(self) -> np.ndarray:
        """The cell each of the five moves leads to, int[Bw, N, 5] (noop: where it stands)."""
        return self.here[..., None] + self.steps

    def occupant(self) -> np.ndarray:
        """The live agent on each cell, -1 for none, int[Bw, C]."""
        who = np.full(self.terrain.shape, -1, dtype=np.int64)
        b, i = np.nonzero(self.alive)
        who[b, self.here[b, i]] = i
        return who

    def position(self, cells: np.ndarray) -> np.ndarray:
        """Map (row, col) of flat cells, int[..., 2]."""
        row, col = np.divmod(np.asarray(cells), self.width)
        return np.stack([row - self.pad, col - self.pad], axis=-1)


class FieldCache:
    """Distance fields of targets that seldom move (goals, plates), kept per world index of the
    state: a call searches again only the worlds whose targets or passable cells changed."""

    def __init__(self):
        self.key: tuple[int, int] | None = None

    def fields(
        self, worlds: np.ndarray, cells: np.ndarray, valid: np.ndarray, passable: np.ndarray, width: int
    ) -> np.ndarray:
        """`target_fields` of the worlds `worlds` (sorted world indices of the state)."""
        Bw, T, C = passable.shape
        if self.key != (T, C) or worlds[-1] >= len(self.cells):
            size = max(worlds[-1] + 1, 2 * len(self.cells) if self.key == (T, C) else 0)
            self._grow(size, T, C)
        w = worlds
        cells = np.where(valid, cells, -1)
        stale = ~((self.cells[w] == cells).all(1) & (self.passable[w] == passable).reshape(Bw, -1).all(1))
        if stale.any():
            fresh = target_fields(cells[stale], valid[stale], passable[stale], width)
            self.cells[w[stale]] = cells[stale]
            self.passable[w[stale]] = passable[stale]
            self.dist[w[stale]] = fresh
        return self.dist[w]

    def _grow(self, size: int, T: int, C: int) -> None:
        old = self.__dict__.copy() if self.key == (T, C) else None
        self.key = (T, C)
        self.cells = np.full((size, T), -2, dtype=np.int64)  # -2: never computed
        self.passable = np.zeros((size, T, C), dtype=bool)
        self.dist = np.zeros((size, T, C), dtype=np.int32)
        if old is not None:
            n = len(old["cells"])
            self.cells[:n], self.passable[:n], self.dist[:n] = old["cells"], old["passable"], old["dist"]
