"""A contact sheet of the Worlds II art, for looking at it: every new cell tile and every sprite
kind, rendered by `render_rgb` at 32 and at 64 pixels (`python -m worlds.tiles --sheet PATH`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from worlds.cells import APPLE, BASE, DOOR, FLOOR, FOOD, KEY, LANDMARK, OPEN_DOOR, VOID
from worlds.render import _TERRAIN_TILES, render_rgb
from worlds.scenario import Sprite
from worlds.scenarios.tag_v0 import Tag
from worlds.state import State
from worlds.tiles_worlds2 import COLOUR_RGB, TEAM_RGB

TILE_ROW = [APPLE, *range(KEY, KEY + 4), *range(DOOR, DOOR + 4), OPEN_DOOR, *range(LANDMARK, LANDMARK + 4)]
TILE_ROW += [FOOD, BASE, BASE + 1]
RED, BLUE, YELLOW, VIOLET = COLOUR_RGB.values()
WEST, EAST = TEAM_RGB
# The sprite row: (terrain, team of an agent standing there or None, sprites, caption).
SPRITE_ROW = [
    (BASE, None, [("flag", WEST, "")], "flag W"),
    (BASE + 1, None, [("flag", EAST, "")], "flag E"),
    (BASE, 0, [("flag", WEST, "")], "on flag"),
    (FLOOR, 1, [("carried_flag", WEST, "")], "has flag"),
    (FLOOR, 0, [("carried_key", RED, "")], "key red"),
    (FLOOR, 1, [("carried_key", BLUE, "")], "key blue"),
    (FLOOR, 0, [("carried_key", YELLOW, "")], "key yel"),
    (FLOOR, 1, [("carried_key", VIOLET, "")], "key vio"),
    (FLOOR, 0, [("bubble", (255, 255, 255), "red")], "says red"),
    (FOOD, None, [("level", (255, 255, 255), "3")], "food 3"),
    (FOOD, None, [("level", (255, 255, 255), "12")], "food 12"),
    (FLOOR, 1, [("frozen", (255, 255, 255), "")], "frozen"),
    (
        FLOOR,
        0,
        [("frozen", (255, 255, 255), ""), ("carried_flag", EAST, ""), ("carried_key", RED, "")],
        "frost+2",
    ),
    (FLOOR, 1, [("bubble", (255, 255, 255), "go"), ("level", (255, 255, 255), "9")], "says+lvl"),
]


@dataclass(frozen=True)
class Showcase(Tag):
    """Tag's two teams on a hand-made board, showing a fixed list of sprites."""

    shown: tuple[Sprite, ...] = ()

    def sprites(self, state, world: int) -> list[Sprite]:
        return list(self.shown)


def showcase() -> tuple[Showcase, State]:
    """The sheet's board: the new tiles in the top row, the sprites in the one below."""
    width = max(len(TILE_ROW), len(SPRITE_ROW))
    cells = np.full((2, width), FLOOR, np.uint8)
    cells[0, : len(TILE_ROW)] = TILE_ROW
    agents, teams, shown = [], [], []
    for col, (terrain, team, sprites, _) in enumerate(SPRITE_ROW):
        cells[1, col] = terrain
        if team is not None:
            agents.append((1, col))
            teams.append(team)
        shown += [Sprite(1, col, kind, colour, label) for kind, colour, label in sprites]
    order = np.argsort(teams, kind="stable")  # Tag seats hunters (team 0) first
    pos = np.array(agents)[order]
    scenario = Showcase(num_agents=len(pos), num_hunters=teams.count(0), shown=tuple(shown))
    pad = 1
    terrain = np.pad(cells, pad, constant_values=VOID)[None]
    n = len(pos)
    state = State(
        terrain,
        pos[None].astype(np.int32),
        np.ones((1, n), bool),
        np.full((1, n, 2), -1, np.int32),
        np.zeros(1, np.int32),
        pad,
    )
    return scenario, state


def captions() -> tuple[list[str], list[str]]:
    """The names under the tile row and the sprite row."""
    return [_TERRAIN_TILES[c] for c in TILE_ROW], [caption for *_, caption in SPRITE_ROW]


def save_sheet(path: str | Path) -> Path:
    """Render the showcase at 32 and 64 pixels, captioned, into one PNG at `path`."""
    scenario, state = showcase()
    small, big = (render_rgb(scenario, state, tile=t) for t in (32, 64))
    gap, caption = 8, 14
    height = small.shape[0] + big.shape[0] + 3 * gap + 2 * caption
    sheet = Image.new("RGB", (big.shape[1] + 2 * gap, height), (12, 12, 18))
    sheet.paste(Image.fromarray(small), (gap, gap))
    top = small.shape[0] + 2 * gap
    sheet.paste(Image.fromarray(big[:64]), (gap, top))
    sheet.paste(Image.fromarray(big[64:]), (gap, top + 64 + caption))
    draw = ImageDraw.Draw(sheet)
    for row, names in enumerate(captions()):
        y = top + 64 + row * (64 + caption) + 1
        for col, name in enumerate(names):
            draw.text((gap + col * 64 + 2, y), name.replace("landmark", "mark")[:10], fill=(200, 200, 210))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
