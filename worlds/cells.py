"""Cell codes of the grid, and the characters that spell them in map files and text views."""

from __future__ import annotations

import numpy as np

VOID, FLOOR, WALL, GOAL, PLATE, GATE, OPEN_GATE = range(7)
NUM_CELLS = 7

# One character per cell: the same alphabet serves map files, `ansi` renders and text views.
CHAR_OF = {VOID: " ", FLOOR: ".", WALL: "#", GOAL: "G", PLATE: "P", GATE: "D", OPEN_GATE: "d"}
CELL_OF = {char: cell for cell, char in CHAR_OF.items() if cell != VOID}
NAME_OF = {
    VOID: "outside the map",
    FLOOR: "floor",
    WALL: "wall",
    GOAL: "goal",
    PLATE: "pressure plate",
    GATE: "closed gate",
    OPEN_GATE: "open gate",
}

# Which cells an agent may stand on; indexed by cell code.
PASSABLE = np.zeros(NUM_CELLS, dtype=bool)
PASSABLE[[FLOOR, GOAL, PLATE, OPEN_GATE]] = True

# Lookup table from cell code to its character, for vectorized text rendering.
CHAR_TABLE = np.array([CHAR_OF[c] for c in range(NUM_CELLS)])
