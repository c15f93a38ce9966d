"""Plain-text maps: one character per cell, parsed (never evaluated) into a `GridMap`.

Legend (the same characters as the text view):

    #  wall            .  floor          G  goal
    P  pressure plate  D  closed gate    d  open gate
    0-9  spawn cell of agent 0-9 (floor under it)

Lines starting with `;` are comments and blank lines at either end are ignored, so a file can
carry its own legend and notes. Every map row must have the same width. Lines end in LF or CRLF;
a UTF-8 byte-order mark is dropped; spawn digits are the ASCII 0-9 only; any other character (a
tab, a form feed, a Unicode digit) is an error naming its line and column. A map is at most
`MAX_SIDE` cells a side and its file at most `MAX_FILE_BYTES` long.

A scenario's `map` is a file, a name in `assets/maps/`, or the map text itself (any string with
a line break): records embed the maps they were played on that way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from worlds.cells import CELL_OF, CHAR_OF, FLOOR, GOAL
from worlds.errors import BadFileError

MAX_SIDE = 255  # cells a side: a bigger map is refused before anything is allocated for it
MAX_FILE_BYTES = 1 << 20
DIGITS = "0123456789"  # str.isdigit() would take '²', '٣' and '１' too


class MapError(BadFileError):
    """A malformed map; the message names the file, line and column."""

    def __init__(self, source: str, line: int, column: int, problem: str):
        super().__init__(f"{source}:{line}:{column}: {problem}")
        self.source, self.line, self.column = source, line, column


@dataclass(frozen=True)
class GridMap:
    """A parsed map: terrain codes plus the agent spawns the file fixes."""

    terrain: np.ndarray  # uint8[H, W]
    spawns: dict[int, tuple[int, int]] = field(default_factory=dict)
    source: str = "<string>"

    @property
    def goals(self) -> np.ndarray:
        """Goal cells in reading order, int[K, 2] as (row, col)."""
        return np.argwhere(self.terrain == GOAL)


def parse_map(text: str, source: str = "<string>") -> GridMap:
    """Parse map text; raise `MapError` naming `source`, line and column on any defect."""
    # split on line feeds only: str.splitlines() also splits on form feeds and other separators
    lines = text.removeprefix("\ufeff").split("\n")
    numbered = [(n + 1, line.removesuffix("\r")) for n, line in enumerate(lines)]
    rows = [(n, line) for n, line in numbered if not line.startswith(";")]
    while rows and not rows[0][1].strip():
        rows.pop(0)
    while rows and not rows[-1][1].strip():
        rows.pop()
    if not rows:
        raise MapError(source, 1, 1, "map has no rows")
    width = len(rows[0][1])
    if len(rows) > MAX_SIDE or width > MAX_SIDE:
        raise MapError(
            source, rows[0][0], 1, f"map is {len(rows)}x{width} cells; at most {MAX_SIDE}x{MAX_SIDE} allowed"
        )
    terrain = np.zeros((len(rows), width), dtype=np.uint8)
    spawns: dict[int, tuple[int, int]] = {}
    spawn_at: dict[int, tuple[int, int]] = {}  # agent -> (line, column) in the file, for errors
    for r, (line_no, line) in enumerate(rows):
        if len(line) != width:
            column = min(len(line), width) + 1
            raise MapError(source, line_no, column, f"row is {len(line)} cells wide, expected {width}")
        for c, char in enumerate(line):
            if char in DIGITS:
                agent = int(char)
                if agent in spawns:
                    first = spawn_at[agent]
                    raise MapError(
                        source,
                        line_no,
                        c + 1,
                        f"agent {agent} spawns twice (first at line {first[0]}, column {first[1]})",
                    )
                spawns[agent] = (r, c)
                spawn_at[agent] = (line_no, c + 1)
                terrain[r, c] = FLOOR
            elif char in CELL_OF:
                terrain[r, c] = CELL_OF[char]
            else:
                legend = " ".join(sorted(CELL_OF)) + " 0-9"
                what = "a tab" if char == "\t" else "a line end" if char == "\r" else f"{char!r}"
                raise MapError(source, line_no, c + 1, f"unknown cell {what} (legend: {legend})")
    return GridMap(terrain, spawns, source)


def map_text(grid: GridMap) -> str:
    """The map written out again, in the map file format (spawns as digits)."""
    chars = np.array([CHAR_OF[c] for c in range(len(CHAR_OF))])[grid.terrain]
    for agent, (r, c) in grid.spawns.items():
        chars[r, c] = str(agent)
    return "\n".join("".join(row) for row in chars) + "\n"


def load_map(path: str | Path) -> GridMap:
    """Load a map file; a bare name like `"plates_small"` is looked up in `assets/maps/`; a
    string with a line break is the map text itself."""
    if isinstance(path, str) and "\n" in path:
        if len(path) > MAX_FILE_BYTES:
            raise MapError("<map text>", 1, 1, f"map text is longer than {MAX_FILE_BYTES} characters")
        return parse_map(path, "<map text>")
    path = Path(path)
    if not path.exists() and path.parent == Path(".") and (MAPS_DIR / f"{path.name}.txt").exists():
        path = MAPS_DIR / f"{path.name}.txt"
    if not path.exists():
        raise FileNotFoundError(f"no map file {str(path)!r} (nor {path.name}.txt in {MAPS_DIR})")
    if not path.is_file():  # a folder, /dev/zero, a pipe: nothing a map is written in
        raise MapError(str(path), 1, 1, "not a regular file")
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise MapError(str(path), 1, 1, f"file is larger than {MAX_FILE_BYTES} bytes; not a map")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise MapError(str(path), 1, 1, f"not UTF-8 text ({err.reason})") from None
    return parse_map(text, str(path))


# `assets/` installs beside the packages (a data-only namespace package), in a checkout or not.
ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
MAPS_DIR = ASSETS_DIR / "maps"


def shipped_map(name: str) -> bool:
    """Whether `name` is a map that ships with the project: a bare name in `assets/maps/`."""
    return (
        isinstance(name, str)
        and name == Path(name).name
        and not name.startswith(".")
        and (MAPS_DIR / f"{name}.txt").is_file()
    )
