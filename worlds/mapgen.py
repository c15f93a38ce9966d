"""Procedural layouts: mazes, rooms and open arenas, all drawn from a seeded Generator."""

from __future__ import annotations

import numpy as np

from worlds.cells import FLOOR, PASSABLE, WALL
from worlds.errors import ConfigError
from worlds.maps import GridMap, MapError


def maze(height: int, width: int, rng: np.random.Generator, loops: float = 0.0) -> np.ndarray:
    """A perfect maze by randomized depth-first search; `loops` knocks out that share of the
    remaining inner walls so there is more than one way round. Sizes must be odd."""
    _check_odd(height, width)
    # The search runs on Python ints over a flat bytearray, with every random number drawn in
    # one call: numpy scalar indexing and a Generator call per step would cost ~10x more.
    # One draw picks the start, then one per carved cell (all cells but the start).
    rows, cols = (height - 1) // 2, (width - 1) // 2
    draws = rng.random(rows * cols).tolist()
    grid = bytearray([WALL]) * (height * width)
    start_row, start_col = divmod(int(draws[0] * rows * cols), cols)
    here = (1 + 2 * start_row) * width + 1 + 2 * start_col
    grid[here] = FLOOR
    stack, k = [here], 1
    while stack:
        here = stack[-1]
        row, col = divmod(here, width)
        # Half-steps towards the unvisited cells two steps away: north, south, east, west.
        options = []
        if row > 1 and grid[here - 2 * width] == WALL:
            options.append(-width)
        if row < height - 2 and grid[here + 2 * width] == WALL:
            options.append(width)
        if col < width - 2 and grid[here + 2] == WALL:
            options.append(1)
        if col > 1 and grid[here - 2] == WALL:
            options.append(-1)
        if not options:
            stack.pop()
            continue
        half = options[int(draws[k] * len(options))]
        k += 1
        grid[here + half] = FLOOR
        grid[here + 2 * half] = FLOOR
        stack.append(here + 2 * half)
    if loops > 0:
        _knock_out_walls(grid, height, width, rng, loops)
    return np.frombuffer(grid, dtype=np.uint8).reshape(height, width)


def rooms(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Four rooms split by one wall across and one wall down, each with a random doorway."""
    if height < 7 or width < 7:
        raise ConfigError(f"rooms need at least 7x7 cells, got {height}x{width}")
    grid = open_arena(height, width)
    u = rng.random(6).tolist()  # one draw for the two splits and the four doors
    split_r = 3 + int(u[0] * (height - 6))
    split_c = 3 + int(u[1] * (width - 6))
    grid[split_r, 1:-1] = WALL
    grid[1:-1, split_c] = WALL
    west = 1 + int(u[2] * (split_c - 1))
    east = split_c + 1 + int(u[3] * (width - 2 - split_c))
    north = 1 + int(u[4] * (split_r - 1))
    south = split_r + 1 + int(u[5] * (height - 2 - split_r))
    grid[split_r, [west, east]] = FLOOR  # the doors in the wall across
    grid[[north, south], split_c] = FLOOR  # and in the wall down
    return grid


def open_arena(height: int, width: int) -> np.ndarray:
    """An empty room with a wall all round."""
    grid = np.full((height, width), WALL, dtype=np.uint8)
    grid[1:-1, 1:-1] = FLOOR
    return grid


LAYOUTS = {"maze": maze, "rooms": rooms, "open": lambda h, w, rng: open_arena(h, w)}


def free_cells(terrain: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """The passable cells not in `exclude` (int[K, 2]), as flat indices into `terrain`."""
    free = np.take(PASSABLE, terrain)
    if exclude is not None and len(exclude):
        exclude = np.asarray(exclude, dtype=np.intp)  # an empty list would be float64
        free[exclude[:, 0], exclude[:, 1]] = False
    return np.flatnonzero(free)


def draw_cells(cells: np.ndarray, count: int, width: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """`count` distinct cells out of the flat indices `cells` (of a grid `width` cells wide), in
    random order, as (row, col) pairs: plain ints, for layout code that checks them one by one."""
    if len(cells) < count:
        raise ConfigError(f"layout has {len(cells)} free cells, needs {count}")
    pool = cells.tolist()
    for k, draw in enumerate(rng.random(count).tolist()):  # the first `count` Fisher-Yates swaps
        j = k + int(draw * (len(pool) - k))
        pool[k], pool[j] = pool[j], pool[k]
    return [divmod(cell, width) for cell in pool[:count]]


def pick_cells(
    terrain: np.ndarray, count: int, rng: np.random.Generator, exclude: np.ndarray | None = None
) -> np.ndarray:
    """`count` distinct passable cells (int[count, 2]), avoiding the `exclude` cells."""
    spots = draw_cells(free_cells(terrain, exclude), count, terrain.shape[1], rng)
    return np.array(spots, dtype=np.int64).reshape(count, 2)


def _knock_out_walls(
    grid: bytearray, height: int, width: int, rng: np.random.Generator, share: float
) -> None:
    # A wall between two floor cells in a line (and nothing else) is a removable partition.
    w = width
    candidates = [
        i
        for row in range(1, height - 1)
        for i in range(row * w + 1, row * w + w - 1)
        if grid[i] == WALL
        and (grid[i - 1] == FLOOR and grid[i + 1] == FLOOR) != (grid[i - w] == FLOOR and grid[i + w] == FLOOR)
    ]
    for i, draw in zip(candidates, rng.random(len(candidates)).tolist(), strict=True):
        if draw < share:
            grid[i] = FLOOR


def check_layout_size(style: str, size: int) -> None:
    """Fail at config time, not at the first reset, on a size the layout cannot draw."""
    if style == "maze":
        _check_odd(size, size)
    elif size < (7 if style == "rooms" else 3):
        raise ConfigError(f"{style} layouts need size >= {7 if style == 'rooms' else 3}, got {size}")


def _check_odd(height: int, width: int) -> None:
    if height % 2 == 0 or width % 2 == 0 or height < 5 or width < 5:
        raise ConfigError(f"maze sizes must be odd and at least 5, got {height}x{width}")


def spawn_agents(grid: GridMap, num_agents: int, rng: np.random.Generator, avoid: np.ndarray) -> np.ndarray:
    """Spawn cells from the map's digits; random free cells for agents the map does not place."""
    fixed = [grid.spawns[i] for i in range(num_agents) if i in grid.spawns]
    fixed = np.array(fixed, dtype=np.int64).reshape(-1, 2)  # int even when no digit is placed
    missing = [i for i in range(num_agents) if i not in grid.spawns]
    pos = np.zeros((num_agents, 2), dtype=np.int32)
    for i in range(num_agents):
        if i in grid.spawns:
            pos[i] = grid.spawns[i]
    if missing:
        taken = np.concatenate([fixed, np.asarray(avoid, dtype=np.int64).reshape(-1, 2)])
        try:
            pos[missing] = pick_cells(grid.terrain, len(missing), rng, exclude=taken)
        except ConfigError as err:
            raise MapError(
                grid.source, 1, 1, f"no room for {len(missing)} agents without a spawn digit ({err})"
            ) from None
    return pos
