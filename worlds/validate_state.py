"""Check saved world state against its scenario before the engine's compiled kernels index with it.

A run checkpoint (or any saved `State`) is only data: positions of 2**30, a `pad` of 99 or a
terrain code of 200 would make the kernels read or write outside their arrays. `check_state`
compares every array the saved state holds with a freshly reset `State` of the same scenario
(same dtype, same shape but the batch dimension) and then checks what the rules promise:

- `terrain`: cell codes below `worlds.cells.NUM_CELLS` (read when called: it grows), the margin
  `pad` wide all `VOID`;
- `pos`: inside the map; an agent in the game stands on a passable cell, and no two share one;
- `alive`: bools stored as 0 or 1; `t`: 0..max_cycles; `goal`: (-1, -1) or inside the map;
  `last_move`: 0..4; `pad`: the scenario's.

It walks the fields of `State` rather than a fixed list, so arrays added to the state later are
checked for dtype and shape (and a dict of arrays such as `extra`, key by key) without a change
here. Every failure is a `BadFileError` naming `source` and the array.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from worlds import cells
from worlds.errors import BadFileError
from worlds.state import State

NUM_MOVES = 5


def check_state(saved: dict, like: State, scenario, source: str) -> None:
    """`saved`: field name -> array (a dict of arrays for dict fields, an int for `pad`), as
    read from a file, for `like.num_worlds` worlds. `like`: a state the engine made for this
    scenario, the reference for dtypes and shapes."""
    num_worlds = like.num_worlds
    for f in dataclasses.fields(like):
        want = getattr(like, f.name)
        if want is None:
            continue
        if f.name not in saved and not (isinstance(want, dict) and not want):  # {} saves no keys
            raise BadFileError(f"{source}: the saved world state has no {f.name!r}")
        got = saved.get(f.name, {})
        if isinstance(want, np.ndarray):
            _check_array(source, f.name, got, want, num_worlds)
        elif isinstance(want, dict):
            if not isinstance(got, dict) or set(got) != set(want):
                keys = sorted(got) if isinstance(got, dict) else type(got).__name__
                raise BadFileError(f"{source}: state {f.name!r} holds {keys}, expected {sorted(want)}")
            for key, array in want.items():
                _check_array(source, f"{f.name}/{key}", got[key], array, num_worlds)
        elif isinstance(want, (int, np.integer)) and not isinstance(got, bool) and got != want:
            raise BadFileError(f"{source}: state {f.name!r} is {got!r}, the scenario's is {want!r}")
    _check_rules(saved, like, scenario, source)


def _check_array(source: str, name: str, got, want: np.ndarray, num_worlds: int) -> None:
    if not isinstance(got, np.ndarray):
        raise BadFileError(f"{source}: state {name!r} is a {type(got).__name__}, not an array")
    if got.dtype != want.dtype:
        raise BadFileError(f"{source}: state {name!r} has dtype {got.dtype}, expected {want.dtype}")
    shape = (num_worlds, *want.shape[1:])
    if got.shape != shape:
        raise BadFileError(f"{source}: state {name!r} has shape {got.shape}, expected {shape}")


def _check_rules(saved: dict, like: State, scenario, source: str) -> None:
    pad = like.pad
    terrain, pos, alive = saved["terrain"], saved["pos"], saved["alive"]
    height, width = like.shape
    if terrain.size and terrain.max() >= cells.NUM_CELLS:
        raise BadFileError(
            f"{source}: state 'terrain' holds cell code {terrain.max()}, codes are 0..{cells.NUM_CELLS - 1}"
        )
    inner = np.zeros(terrain.shape[1:], dtype=bool)
    inner[pad : pad + height, pad : pad + width] = True
    if (terrain[:, ~inner] != cells.VOID).any():
        raise BadFileError(f"{source}: state 'terrain' has cells in its margin outside the map")
    if alive.view(np.uint8).max(initial=0) > 1:
        raise BadFileError(f"{source}: state 'alive' holds values other than true and false")
    outside = (pos < 0).any(-1) | (pos[..., 0] >= height) | (pos[..., 1] >= width)
    if outside.any():
        b, i = np.argwhere(outside)[0]
        raise BadFileError(
            f"{source}: state 'pos' puts agent {i} of world {b} at {pos[b, i].tolist()}, "
            f"outside the {height}x{width} map"
        )
    world = np.arange(len(pos))[:, None]
    under = terrain[world, pos[..., 0] + pad, pos[..., 1] + pad]
    blocked = alive & ~cells.PASSABLE[under]
    if blocked.any():
        b, i = np.argwhere(blocked)[0]
        what = cells.NAME_OF.get(int(under[b, i]), "a cell")
        raise BadFileError(f"{source}: state 'pos' puts agent {i} of world {b} on {what}")
    flat = np.where(alive, pos[..., 0] * width + pos[..., 1], -1 - np.arange(pos.shape[1]))
    ordered = np.sort(flat, axis=1)
    if (ordered[:, 1:] == ordered[:, :-1]).any():
        raise BadFileError(f"{source}: state 'pos' puts two agents in the game on one cell")
    if "t" in saved and ((saved["t"] < 0) | (saved["t"] > scenario.max_cycles)).any():
        raise BadFileError(
            f"{source}: state 't' holds {saved['t'].min()}..{saved['t'].max()}, not 0..{scenario.max_cycles}"
        )
    goal = saved.get("goal")
    if goal is not None:
        none = (goal == -1).all(-1)
        inside = (goal >= 0).all(-1) & (goal[..., 0] < height) & (goal[..., 1] < width)
        if not (none | inside).all():
            raise BadFileError(f"{source}: state 'goal' holds a cell outside the map")
    last = saved.get("last_move")
    if last is not None and last.size and (last.min() < 0 or last.max() >= NUM_MOVES):
        raise BadFileError(f"{source}: state 'last_move' holds moves outside 0..{NUM_MOVES - 1}")
