"""Cell codes of the grid, and the characters that spell them in map files and text views.

Codes 0-6 are the first scenarios' (maze, plates, tag); their views one-hot `CLASSIC_CELLS`
codes, so checkpoints trained on them keep their shapes. Later codes belong to the Worlds II
scenarios (harvest, keys, signal, forage, flags), whose views use all `NUM_CELLS`.
"""

from __future__ import annotations

import numpy as np

VOID, FLOOR, WALL, GOAL, PLATE, GATE, OPEN_GATE = range(7)
CLASSIC_CELLS = 7  # the codes of maze_v0, plates_v0 and tag_v0
APPLE = 7  # harvest_v0: collected by stepping on it, regrows next to other apples
KEY = 8  # keys_v0: KEY + colour (4 colours), picked up by standing on it
DOOR = 12  # keys_v0: DOOR + colour, locked; `toggle` with the key of its colour opens it
OPEN_DOOR = 16
LANDMARK = 17  # signal_v0: LANDMARK + colour, one of them the listeners' target
FOOD = 21  # forage_v0: an item with a level (kept in the scenario's state), not walkable
BASE = 22  # flags_v0: BASE + team, where the team's flag stands and where it scores
NUM_CELLS = 24

COLOURS = ("red", "blue", "yellow", "violet")

# One character per cell: the same alphabet serves map files, `ansi` renders and text views.
CHAR_OF = {
    VOID: " ",
    FLOOR: ".",
    WALL: "#",
    GOAL: "G",
    PLATE: "P",
    GATE: "D",
    OPEN_GATE: "d",
    APPLE: "a",
    **{KEY + k: "rbyv"[k] for k in range(4)},
    **{DOOR + k: "RBYV"[k] for k in range(4)},
    OPEN_DOOR: "_",
    **{LANDMARK + k: "!%&*"[k] for k in range(4)},
    FOOD: "f",
    BASE: "<",
    BASE + 1: ">",
}
CELL_OF = {char: cell for cell, char in CHAR_OF.items() if cell != VOID}
NAME_OF = {
    VOID: "outside the map",
    FLOOR: "floor",
    WALL: "wall",
    GOAL: "goal",
    PLATE: "pressure plate",
    GATE: "closed gate",
    OPEN_GATE: "open gate",
    APPLE: "apple",
    **{KEY + k: f"{c} key" for k, c in enumerate(COLOURS)},
    **{DOOR + k: f"locked {c} door" for k, c in enumerate(COLOURS)},
    OPEN_DOOR: "open door",
    **{LANDMARK + k: f"{c} landmark" for k, c in enumerate(COLOURS)},
    FOOD: "food",
    BASE: "west base",
    BASE + 1: "east base",
}

# Which cells an agent may stand on; indexed by cell code.
PASSABLE = np.zeros(NUM_CELLS, dtype=bool)
PASSABLE[[FLOOR, GOAL, PLATE, OPEN_GATE, APPLE, OPEN_DOOR, BASE, BASE + 1]] = True
PASSABLE[KEY : KEY + 4] = True
PASSABLE[LANDMARK : LANDMARK + 4] = True

# Lookup table from cell code to its character, for vectorized text rendering.
CHAR_TABLE = np.array([CHAR_OF[c] for c in range(NUM_CELLS)])


def legend(codes) -> str:
    """The text view's legend for some cell codes: "# wall, . floor, ..."."""
    return ", ".join(f"{CHAR_OF[c]} {NAME_OF[c]}" for c in codes if c != VOID)
