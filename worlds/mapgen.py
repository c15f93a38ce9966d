"""Procedural layouts: mazes, rooms and open arenas, all drawn from a seeded Generator."""

from __future__ import annotations

import numpy as np

from worlds.cells import FLOOR, PASSABLE, WALL
from worlds.maps import GridMap

_STEPS = np.array([(-2, 0), (2, 0), (0, 2), (0, -2)])


def maze(height: int, width: int, rng: np.random.Generator, loops: float = 0.0) -> np.ndarray:
    """A perfect maze by randomized depth-first search; `loops` knocks out that share of the
    remaining inner walls so there is more than one way round. Sizes must be odd."""
    _check_odd(height, width)
    grid = np.full((height, width), WALL, dtype=np.uint8)
    start = (1 + 2 * rng.integers((height - 1) // 2), 1 + 2 * rng.integers((width - 1) // 2))
    grid[start] = FLOOR
    stack = [start]
    while stack:
        r, c = stack[-1]
        options = [
            (r + dr, c + dc)
            for dr, dc in _STEPS
            if 0 < r + dr < height - 1 and 0 < c + dc < width - 1 and grid[r + dr, c + dc] == WALL
        ]
        if not options:
            stack.pop()
            continue
        nr, nc = options[rng.integers(len(options))]
        grid[(r + nr) // 2, (c + nc) // 2] = FLOOR
        grid[nr, nc] = FLOOR
        stack.append((nr, nc))
    if loops > 0:
        _knock_out_walls(grid, rng, loops)
    return grid


def rooms(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Four rooms split by one wall across and one wall down, each with a random doorway."""
    if height < 7 or width < 7:
        raise ValueError(f"rooms need at least 7x7 cells, got {height}x{width}")
    grid = open_arena(height, width)
    split_r = int(rng.integers(3, height - 3))
    split_c = int(rng.integers(3, width - 3))
    grid[split_r, 1:-1] = WALL
    grid[1:-1, split_c] = WALL
    doors = [
        (split_r, int(rng.integers(1, split_c))),
        (split_r, int(rng.integers(split_c + 1, width - 1))),
        (int(rng.integers(1, split_r)), split_c),
        (int(rng.integers(split_r + 1, height - 1)), split_c),
    ]
    for door in doors:
        grid[door] = FLOOR
    return grid


def open_arena(height: int, width: int) -> np.ndarray:
    """An empty room with a wall all round."""
    grid = np.full((height, width), FLOOR, dtype=np.uint8)
    grid[[0, -1], :] = WALL
    grid[:, [0, -1]] = WALL
    return grid


LAYOUTS = {"maze": maze, "rooms": rooms, "open": lambda h, w, rng: open_arena(h, w)}


def pick_cells(
    terrain: np.ndarray, count: int, rng: np.random.Generator, exclude: np.ndarray | None = None
) -> np.ndarray:
    """`count` distinct passable cells (int[count, 2]), avoiding the `exclude` cells."""
    free = PASSABLE[terrain].copy()
    if exclude is not None and len(exclude):
        free[exclude[:, 0], exclude[:, 1]] = False
    cells = np.argwhere(free)
    if len(cells) < count:
        raise ValueError(f"layout has {len(cells)} free cells, needs {count}")
    return cells[rng.choice(len(cells), size=count, replace=False)]


def _knock_out_walls(grid: np.ndarray, rng: np.random.Generator, share: float) -> None:
    inner = grid[1:-1, 1:-1]
    # A wall between two floor cells in a line (and nothing else) is a removable partition.
    horiz = (inner == WALL) & (grid[1:-1, :-2] == FLOOR) & (grid[1:-1, 2:] == FLOOR)
    vert = (inner == WALL) & (grid[:-2, 1:-1] == FLOOR) & (grid[2:, 1:-1] == FLOOR)
    candidates = np.argwhere(horiz ^ vert)
    chosen = candidates[rng.random(len(candidates)) < share]
    grid[chosen[:, 0] + 1, chosen[:, 1] + 1] = FLOOR


def check_layout_size(style: str, size: int) -> None:
    """Fail at config time, not at the first reset, on a size the layout cannot draw."""
    if style == "maze":
        _check_odd(size, size)
    elif size < (7 if style == "rooms" else 3):
        raise ValueError(f"{style} layouts need size >= {7 if style == 'rooms' else 3}, got {size}")


def _check_odd(height: int, width: int) -> None:
    if height % 2 == 0 or width % 2 == 0 or height < 5 or width < 5:
        raise ValueError(f"maze sizes must be odd and at least 5, got {height}x{width}")


def spawn_agents(grid: GridMap, num_agents: int, rng: np.random.Generator, avoid: np.ndarray) -> np.ndarray:
    """Spawn cells from the map's digits; random free cells for agents the map does not place."""
    fixed = np.array([grid.spawns[i] for i in range(num_agents) if i in grid.spawns]).reshape(-1, 2)
    missing = [i for i in range(num_agents) if i not in grid.spawns]
    pos = np.zeros((num_agents, 2), dtype=np.int32)
    for i in range(num_agents):
        if i in grid.spawns:
            pos[i] = grid.spawns[i]
    if missing:
        taken = np.concatenate([fixed, avoid.reshape(-1, 2)])
        pos[missing] = pick_cells(grid.terrain, len(missing), rng, exclude=taken)
    return pos
