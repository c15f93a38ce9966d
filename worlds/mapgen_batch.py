"""`worlds.mapgen`'s layouts for a batch of worlds, each drawn from its own generator exactly as
`mapgen` draws one world's: the same numbers in the same order, so the same mazes, rooms and
cells, bit for bit (the first scenarios' replays and layout checksums depend on it).

Each world's numbers come from its own `np.random.Generator`, so drawing them is the one step
that visits the worlds one by one: a single numpy call per world (`draw_rows`), a microsecond.
Everything built from them (depth-first mazes, walls knocked out, rooms, picked cells) runs in
compiled loops over the whole batch. `mapgen` keeps the one-world versions, which these follow
line by line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from worlds.cells import FLOOR, PASSABLE, WALL
from worlds.errors import ConfigError
from worlds.mapgen import _check_odd, open_arena


def draw_rows(rngs: Sequence[np.random.Generator], counts) -> np.ndarray:
    """The next `counts[k]` (or `counts`) uniform draws of each world's generator, as the rows
    of one float64 array (padded with zeros): one `random` call per world."""
    counts = np.broadcast_to(np.asarray(counts, dtype=np.int64), (len(rngs),)).tolist()
    if not counts:
        return np.zeros((0, 0))
    if len(set(counts)) == 1:
        return np.stack([rng.random(counts[0]) for rng in rngs]).reshape(len(rngs), counts[0])
    out = np.zeros((len(rngs), max(counts)))
    for row, rng, n in zip(out, rngs, counts, strict=True):
        row[:n] = rng.random(n)
    return out


def grids(
    style: str,
    height: int,
    width: int,
    rngs: Sequence[np.random.Generator],
    loops: float = 0.0,
    then: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """`mapgen.LAYOUTS[style](height, width, rng)` for every generator of `rngs` (`loops` for
    mazes), uint8[K, height, width]; and the `then` draws each generator gives next, float64[K,
    then] (taken in the same call as the layout's own last draws: one call fewer per world)."""
    K = len(rngs)
    if style == "open":
        return np.repeat(open_arena(height, width)[None], K, axis=0), draw_rows(rngs, then)
    out = np.empty((K, height, width), dtype=np.uint8)
    if style == "rooms":
        if height < 7 or width < 7:
            raise ConfigError(f"rooms need at least 7x7 cells, got {height}x{width}")
        u = draw_rows(rngs, 6 + then)
        _rooms(u, out)
        return out, u[:, 6:]
    _check_odd(height, width)
    cells = ((height - 1) // 2) * ((width - 1) // 2)
    u = draw_rows(rngs, cells + (0 if loops > 0 else then))
    _mazes(u, out)
    if loops <= 0:
        return out, u[:, cells:]
    walls = np.empty((K, height * width), dtype=np.int64)
    counts = np.empty(K, dtype=np.int64)
    _wall_candidates(out, walls, counts)
    u = draw_rows(rngs, counts + then)
    _knock_out(out, walls, counts, u, loops)
    after = np.empty((K, then))
    _after(u, counts, after)
    return out, after


def check_room(free: np.ndarray, needed: int) -> None:
    """The ConfigError `mapgen.draw_cells` raises when a layout has too few free cells, for the
    first world of `free` (int[K], free cells per world; negative: enough) that has too few."""
    short = free[free >= 0]
    if len(short):
        raise ConfigError(f"layout has {int(short[0])} free cells, needs {needed}")


@njit(cache=True)
def _mazes(u, out):
    """`mapgen.maze` without loops, world k from its draws u[k]: a randomized depth-first search
    on a flat grid, one draw for the start, then one per carved cell."""
    K, H, W = out.shape
    rows, cols = (H - 1) // 2, (W - 1) // 2
    stack = np.empty(rows * cols, np.int64)
    options = np.empty(4, np.int64)
    for b in range(K):
        grid = out[b].reshape(H * W)
        grid[:] = WALL
        start = int(u[b, 0] * rows * cols)
        here = (1 + 2 * (start // cols)) * W + 1 + 2 * (start % cols)
        grid[here] = FLOOR
        top, k = 0, 1
        stack[0] = here
        while top >= 0:
            here = stack[top]
            row, col = here // W, here % W
            n = 0  # half-steps towards unvisited cells two steps away: north, south, east, west
            if row > 1 and grid[here - 2 * W] == WALL:
                options[n] = -W
                n += 1
            if row < H - 2 and grid[here + 2 * W] == WALL:
                options[n] = W
                n += 1
            if col < W - 2 and grid[here + 2] == WALL:
                options[n] = 1
                n += 1
            if col > 1 and grid[here - 2] == WALL:
                options[n] = -1
                n += 1
            if n == 0:
                top -= 1
                continue
            half = options[int(u[b, k] * n)]
            k += 1
            grid[here + half] = FLOOR
            grid[here + 2 * half] = FLOOR
            top += 1
            stack[top] = here + 2 * half


@njit(cache=True)
def _wall_candidates(out, walls, counts):
    """The removable partitions of each maze (a wall between two floor cells in a line, and
    nothing else), flat, in reading order: `mapgen._knock_out_walls`'s candidates."""
    K, H, W = out.shape
    for b in range(K):
        grid = out[b].reshape(H * W)
        n = 0
        for row in range(1, H - 1):
            for i in range(row * W + 1, row * W + W - 1):
                across = grid[i - 1] == FLOOR and grid[i + 1] == FLOOR
                down = grid[i - W] == FLOOR and grid[i + W] == FLOOR
                if grid[i] == WALL and across != down:
                    walls[b, n] = i
                    n += 1
        counts[b] = n


@njit(cache=True)
def _knock_out(out, walls, counts, u, share):
    """Each candidate wall whose draw is below `share` becomes floor."""
    K, H, W = out.shape
    for b in range(K):
        grid = out[b].reshape(H * W)
        for n in range(counts[b]):
            if u[b, n] < share:
                grid[walls[b, n]] = FLOOR


@njit(cache=True)
def _after(u, counts, out):
    """out[k] = the draws of row k after its first counts[k]."""
    for b in range(out.shape[0]):
        out[b] = u[b, counts[b] : counts[b] + out.shape[1]]


@njit(cache=True)
def _rooms(u, out):
    """`mapgen.rooms`, world k from its six draws u[k]: the two splits, then the four doors."""
    K, H, W = out.shape
    for b in range(K):
        for y in range(H):
            for x in range(W):
                out[b, y, x] = FLOOR if 0 < y < H - 1 and 0 < x < W - 1 else WALL
        split_r = 3 + int(u[b, 0] * (H - 6))
        split_c = 3 + int(u[b, 1] * (W - 6))
        out[b, split_r, 1 : W - 1] = WALL
        out[b, 1 : H - 1, split_c] = WALL
        out[b, split_r, 1 + int(u[b, 2] * (split_c - 1))] = FLOOR  # west door
        out[b, split_r, split_c + 1 + int(u[b, 3] * (W - 2 - split_c))] = FLOOR  # east
        out[b, 1 + int(u[b, 4] * (split_r - 1)), split_c] = FLOOR  # north
        out[b, split_r + 1 + int(u[b, 5] * (H - 2 - split_r)), split_c] = FLOOR  # south


@njit(cache=True)
def pick(grid, lo, hi, skip, count, u, first, pool, out):
    """`mapgen.pick_cells` on one world: `count` distinct passable cells of `grid` in columns
    lo..hi-1 whose code is not `skip`, by the first `count` Fisher-Yates swaps of them in
    reading order (draws u[first:]), into out[:count] as (row, col). `pool` is scratch of the
    grid's size. Returns -1, or the number of free cells when they are fewer than `count`."""
    H, W = grid.shape
    n = 0
    for y in range(H):
        for x in range(lo, hi):
            if PASSABLE[grid[y, x]] and grid[y, x] != skip:
                pool[n] = y * W + x
                n += 1
    if n < count:
        return n
    for k in range(count):
        j = k + int(u[first + k] * (n - k))
        pool[k], pool[j] = pool[j], pool[k]
        out[k, 0], out[k, 1] = pool[k] // W, pool[k] % W
    return -1
