"""The rgb renderer: one world of a `State` as an image, composed in numpy from cached tiles.

It reads state and never changes it. Terrain is one fancy-index of a tile stack; agents (at
most ten) are tinted body masks alpha-blended on top, one shape per team and one palette
colour per agent, with the agent's index drawn small on its body. A scenario's sprites
(`Scenario.sprites`: flags, carried items, speech bubbles, levels, frost; art in `worlds.sprites`)
go over the cells they name: flags under the bodies, the rest over them. The tile art lives in
`assets/tiles/` (drawn by `worlds.tiles`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from worlds import font
from worlds.cells import (
    APPLE,
    BASE,
    COLOURS,
    DOOR,
    FLOOR,
    FOOD,
    GATE,
    GOAL,
    KEY,
    LANDMARK,
    NUM_CELLS,
    OPEN_DOOR,
    OPEN_GATE,
    PLATE,
    VOID,
    WALL,
)
from worlds.scenario import Scenario, Sprite
from worlds.sprites import GROUND, sprite_art
from worlds.state import State
from worlds.tiles import TILES_DIR, tint
from worlds.tiles_worlds2 import COLOUR_RGB, TEAM_RGB

__all__ = ["COLOUR_RGB", "PALETTE", "TEAM_RGB", "TEAM_SHAPES", "agent_colour", "render_rgb", "tileset"]

# One colour per agent index, bright on the dark floor and apart from each other; the first
# eight follow Okabe & Ito's colour-blind-safe set (its black swapped for white, its dark blue
# lightened), and shapes and digits tell agents apart where hue alone may not.
PALETTE = np.array(
    [
        (230, 159, 0),  # 0 orange
        (86, 180, 233),  # 1 sky blue
        (0, 190, 140),  # 2 bluish green
        (222, 130, 185),  # 3 reddish purple (not yellow: beside orange it read as the same)
        (213, 94, 0),  # 4 vermillion
        (60, 130, 255),  # 5 blue
        (240, 228, 66),  # 6 yellow
        (240, 240, 240),  # 7 white
        (150, 110, 230),  # 8 violet
        (160, 120, 80),  # 9 brown
    ],
    dtype=np.uint8,
)
TEAM_SHAPES = ("round", "diamond")  # body shape by team index (cycled if there are more)
_TERRAIN_TILES = {
    VOID: "void",
    FLOOR: "floor",
    WALL: "wall",
    GOAL: "goal",
    PLATE: "plate",
    GATE: "gate",
    OPEN_GATE: "open_gate",
    APPLE: "apple",
    **{KEY + k: f"key_{c}" for k, c in enumerate(COLOURS)},
    **{DOOR + k: f"door_{c}" for k, c in enumerate(COLOURS)},
    OPEN_DOOR: "open_door",
    **{LANDMARK + k: f"landmark_{c}" for k, c in enumerate(COLOURS)},
    FOOD: "food",
    BASE: "base_west",
    BASE + 1: "base_east",
}
_MASK_FILES = ("goal_mark", *(f"agent_{shape}" for shape in TEAM_SHAPES))
_INK = np.array((16, 16, 24), np.float32)


@dataclass(frozen=True)
class Tileset:
    """The art at one tile size."""

    terrain: np.ndarray  # uint8[NUM_CELLS, T, T, 3], indexed by cell code
    floor: np.ndarray  # float32[T, T, 3]
    goal_mark: np.ndarray  # float32[T, T, 2]: shade and alpha (0..1)
    bodies: dict[str, np.ndarray]  # shape name -> float32[T, T, 2]


def agent_colour(agent: int) -> tuple[int, int, int]:
    """The palette colour of agent index `agent`, as (r, g, b)."""
    return tuple(int(v) for v in PALETTE[agent % len(PALETTE)])


def render_rgb(scenario: Scenario, state: State, world: int = 0, tile: int = 32) -> np.ndarray:
    """World `world` of `state` as uint8[H * tile, W * tile, 3]."""
    art = tileset(tile)
    cells = state.cells()[world]
    H, W = cells.shape
    frame = art.terrain[cells].transpose(0, 2, 1, 3, 4).reshape(H * tile, W * tile, 3)
    for (row, col), owners in _owned_goals(state, world, cells):
        frame[row * tile : (row + 1) * tile, col * tile : (col + 1) * tile] = _goal_tile(tile, owners)
    sprites = sorted(scenario.sprites(state, world), key=lambda s: s.kind not in GROUND)
    ground = sum(s.kind in GROUND for s in sprites)
    _draw_sprites(frame, sprites[:ground], tile)  # flags stand under the agents
    teams = np.asarray(scenario.teams)
    for i in np.flatnonzero(state.alive[world]):
        row, col = (int(v) for v in state.pos[world, i])
        shape = TEAM_SHAPES[int(teams[i]) % len(TEAM_SHAPES)]
        number = int((teams[:i] == teams[i]).sum())  # runner_0 shows 0, as its name says
        rgb, alpha, ink = _sprite(tile, shape, int(i), number)
        cell = frame[row * tile : (row + 1) * tile, col * tile : (col + 1) * tile]
        blended = cell * (1 - alpha) + rgb * alpha
        blended[ink] = _INK
        cell[:] = np.rint(blended).astype(np.uint8)
        if cells[row, col] == PLATE:  # a pressed plate would hide under its agent: frame the cell
            _outline(cell, _PRESSED)
    _draw_sprites(frame, sprites[ground:], tile)  # badges, bubbles, levels and frost over them
    return frame


def ghost_badge(cell: np.ndarray, scenario: Scenario, agent: int, opacity: float) -> None:
    """A half-size body of `agent`, at `opacity` with a dark rim, in the bottom right corner of
    `cell` (uint8[T, T, 3], drawn on in place): an agent that left the game where another now
    stands, so that it shows beside the body rather than under it."""
    tile = cell.shape[0]
    half = tile // 2
    if half < 8:
        return
    teams = np.asarray(scenario.teams)
    shape = TEAM_SHAPES[int(teams[agent]) % len(TEAM_SHAPES)]
    rgb, alpha, _ = _sprite(half, shape, int(agent), 0)
    corner = cell[tile - half :, tile - half :]
    rim = np.clip(_grow(alpha[..., 0]) - alpha[..., 0], 0, 1)[..., None]
    out = corner * (1 - rim) + _INK * rim
    out = out * (1 - alpha * opacity) + rgb * alpha * opacity
    corner[:] = np.rint(out).astype(np.uint8)


def _grow(alpha: np.ndarray) -> np.ndarray:
    """`alpha` spread by one pixel in the four directions (for a rim around a sprite)."""
    out = alpha.copy()
    out[1:] = np.maximum(out[1:], alpha[:-1])
    out[:-1] = np.maximum(out[:-1], alpha[1:])
    out[:, 1:] = np.maximum(out[:, 1:], alpha[:, :-1])
    out[:, :-1] = np.maximum(out[:, :-1], alpha[:, 1:])
    return out


def _draw_sprites(frame: np.ndarray, sprites: list[Sprite], tile: int) -> None:
    """Blend each sprite's art over its cell, in list order."""
    for sprite in sprites:
        rgb, alpha = sprite_art(tile, sprite.kind, tuple(sprite.colour), sprite.label)
        cell = frame[sprite.row * tile : (sprite.row + 1) * tile, sprite.col * tile : (sprite.col + 1) * tile]
        cell[:] = np.rint(cell * (1 - alpha) + rgb * alpha).astype(np.uint8)


def _owned_goals(state: State, world: int, cells: np.ndarray) -> list[tuple[tuple[int, int], tuple]]:
    """Goal cells that are agents' own (maze_v0), each with its owners' indices; none when every
    agent shares one goal (plates_v0), which stays the neutral gold one."""
    goals = state.goal[world]
    has = goals[:, 0] >= 0
    if not has.any() or (has.sum() > 1 and (goals[has] == goals[has][0]).all()):
        return []
    owned = []
    for row, col in np.unique(goals[has], axis=0):
        if cells[row, col] == GOAL:
            owners = np.flatnonzero(has & (goals == (row, col)).all(-1))
            owned.append(((int(row), int(col)), tuple(int(i) for i in owners)))
    return owned


@lru_cache(maxsize=8)
def tileset(tile: int) -> Tileset:
    """The PNG art resized to `tile` pixels, loaded once per size."""
    if tile < 4:
        raise ValueError(f"tile must be at least 4 pixels, got {tile}")
    terrain = np.stack([_load(_TERRAIN_TILES[c], "RGB", tile) for c in range(NUM_CELLS)])
    masks = {name: _load(name, "LA", tile).astype(np.float32) / (1, 255) for name in _MASK_FILES}
    return Tileset(
        terrain=_frozen(terrain),
        floor=_frozen(terrain[FLOOR].astype(np.float32)),
        goal_mark=_frozen(masks["goal_mark"]),
        bodies={shape: _frozen(masks[f"agent_{shape}"]) for shape in TEAM_SHAPES},
    )


def _frozen(array: np.ndarray) -> np.ndarray:
    """Cached art is shared by every frame, so nobody may draw on it."""
    array.flags.writeable = False
    return array


def _load(name: str, mode: str, tile: int) -> np.ndarray:
    path = TILES_DIR / f"{name}.png"
    if not path.exists():
        raise FileNotFoundError(f"missing tile art {path}; run `python -m worlds.tiles` to draw it")
    with Image.open(path) as image:
        image = image.convert(mode)
        if image.size != (tile, tile):
            # NEAREST keeps pixel art crisp when enlarging; shrinking averages instead, so one
            # pixel lines (the floor grid) fade rather than vanish.
            grow = tile > image.size[0]
            image = image.resize((tile, tile), Image.Resampling.NEAREST if grow else Image.Resampling.BOX)
        return np.asarray(image)


@lru_cache(maxsize=64)
def _sprite(tile: int, shape: str, agent: int, number: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Agent `agent`'s body tinted in its colour: rgb float[T, T, 3], alpha float[T, T, 1] and
    the pixels of its number within its team, bool[T, T]."""
    body = tileset(tile).bodies[shape]
    colour = PALETTE[agent % len(PALETTE)].astype(np.float32)
    return _frozen(tint(body[..., 0], colour)), body[..., 1:], _digit(tile, number % 10)


_PRESSED = np.array((120, 230, 120), np.uint8)  # the frame of a plate held down


def _outline(cell: np.ndarray, colour: np.ndarray) -> None:
    """A frame around a tile, max(1, T // 16) pixels wide."""
    w = max(1, cell.shape[0] // 16)
    cell[:w], cell[-w:], cell[:, :w], cell[:, -w:] = colour, colour, colour, colour


@lru_cache(maxsize=128)
def _goal_tile(tile: int, owners: tuple[int, ...]) -> np.ndarray:
    """The goal tinted in its owners' colours (split into equal sectors when several share it)."""
    art = tileset(tile)
    u = np.arange(tile) + 0.5 - tile / 2
    angle = np.arctan2(u[:, None], u[None, :]) + np.pi  # 0..2pi, from the west, clockwise
    sector = np.minimum((angle / (2 * np.pi) * len(owners)).astype(int), len(owners) - 1)
    colours = PALETTE[np.asarray(owners) % len(PALETTE)].astype(np.float32)[sector]
    shade, alpha = art.goal_mark[..., 0], art.goal_mark[..., 1:]
    out = art.floor * (1 - alpha) + tint(shade, colours) * alpha
    return _frozen(np.rint(out).astype(np.uint8))


@lru_cache(maxsize=64)
def _digit(tile: int, digit: int) -> np.ndarray:
    """Where digit `digit` is inked on a sprite, bool[T, T]: the 3x5 font scaled by tile // 16,
    centred across and set just below the middle, so the centre pixel shows the body colour."""
    ink = np.zeros((tile, tile), dtype=bool)
    if tile < 12:
        return _frozen(ink)  # too small to read
    scale = tile // 16
    glyph = font.glyph(str(digit)).repeat(scale, 0).repeat(scale, 1)
    top, left = tile // 2 + 1, (tile - glyph.shape[1] + 1) // 2
    ink[top : top + glyph.shape[0], left : left + glyph.shape[1]] = glyph
    return _frozen(ink)
