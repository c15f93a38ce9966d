"""The terrain art of the Worlds II cells (apples, keys, doors, landmarks, food, bases).

Drawn in numpy like the classic tiles in `worlds.tiles` (which saves them all as PNGs). Each of
the four item colours has its own glyph too (circle, square, triangle, diamond), worn by the
key's bow, the door's plaque and the landmark's face, so nobody needs hue alone to match a key
to its door; the two bases carry their team's body shape (round, diamond).
"""

from __future__ import annotations

import numpy as np

from worlds.cells import COLOURS
from worlds.tiles import (
    RECESS,
    STEEL,
    STEEL_DARK,
    STEEL_LIGHT,
    WALL,
    WALL_DARK,
    WALL_LIGHT,
    _bevel,
    _dilate,
    _fill,
    _grain,
    _grid,
    _px,
    floor,
)

# The item colours, indexed like `cells.COLOURS`: apart from each other and from every agent
# colour of `worlds.render.PALETTE` (crimson, not its vermillion; a deep blue, not its sky or
# mid blue; a pale lemon, not its yellow or orange; a magenta violet, not its lilac violet).
COLOUR_RGB = {
    "red": (232, 48, 64),
    "blue": (44, 72, 224),
    "yellow": (250, 244, 140),
    "violet": (196, 56, 216),
}
GLYPHS = ("circle", "square", "triangle", "diamond")  # one per colour, in `COLOURS` order
# Team colours of the bases (west, east): Okabe & Ito's orange/blue pair, which stays apart
# for every common kind of colour blindness.
TEAM_RGB = ((240, 136, 48), (72, 156, 240))
INK = (16, 16, 24)
APPLE_RED = (200, 36, 44)
LEAF = (70, 160, 70)
BUSH = (38, 104, 58)
BUSH_LIGHT = (72, 148, 80)
BERRY = (120, 170, 255)
KEY_HOLE = (28, 32, 44)  # the floor seen through the bow


def glyph(k: int, dy: np.ndarray, dx: np.ndarray, r: float) -> np.ndarray:
    """Where colour `k`'s glyph of radius `r` (tile units) covers, centred on (dy, dx) = 0."""
    shape = GLYPHS[k % len(GLYPHS)]
    if shape == "circle":
        return np.hypot(dy, dx) < r
    if shape == "square":
        return np.maximum(np.abs(dy), np.abs(dx)) < r * 0.86
    if shape == "triangle":  # pointing up
        return (dy < r * 0.8) & (np.abs(dx) <= (dy + r * 1.05) * 0.62)
    return np.abs(dy) + np.abs(dx) < r * 1.2  # diamond


def _lit(colour, amount: float) -> np.ndarray:
    """`colour` lightened toward white (amount > 0) or darkened toward black (amount < 0)."""
    c = np.asarray(colour, np.float32)
    return c + (255 - c) * amount if amount >= 0 else c * (1 + amount)


def _paint(img: np.ndarray, inside: np.ndarray, colour, dy: np.ndarray, dx: np.ndarray, size: int) -> None:
    """`inside` in `colour`, lit from the top left, with a one-pixel ink outline."""
    img[_dilate(inside, _px(size, 1)) & ~inside] = INK
    img[inside] = colour
    img[inside & (dy + dx < -0.1)] = _lit(colour, 0.3)
    img[inside & (dy + dx > 0.2)] = _lit(colour, -0.25)


def _shadow(img: np.ndarray, inside: np.ndarray, size: int) -> None:
    """A soft dark shadow of `inside` one pixel down and right, on the floor."""
    step = _px(size, 1)
    shadow = np.zeros_like(inside)
    shadow[step:, step:] = inside[:-step, :-step]
    img[shadow] *= 0.55


def apple(size: int) -> np.ndarray:
    """A red apple on the floor: two lobes, a stem and a green leaf, with a shine."""
    img = floor(size)
    dy, dx = _grid(size)
    body = (np.hypot(dy - 0.06, dx - 0.1) < 0.24) | (np.hypot(dy - 0.06, dx + 0.1) < 0.24)
    body &= np.hypot(dy + 0.2, dx) > 0.07  # the dimple under the stem
    _shadow(img, _dilate(body, _px(size, 1)), size)
    _paint(img, body, APPLE_RED, dy, dx, size)
    img[np.hypot(dy + 0.02, dx + 0.16) < 0.05] = (255, 220, 220)  # the shine
    stem = (np.abs(dx - 0.01) < 0.025) & (dy > -0.34) & (dy < -0.16)
    img[stem] = (96, 62, 30)
    leaf = np.hypot((dy + 0.3) / 0.06, (dx - 0.13) / 0.11) < 1
    img[_dilate(leaf, _px(size, 1)) & ~leaf & ~body & ~stem] = INK
    img[leaf] = LEAF
    return img


def key(k: int):
    """The tile of the key of colour `k`: its bow is the colour's glyph, with a hole."""

    def draw(size: int) -> np.ndarray:
        img = floor(size)
        dy, dx = _grid(size)
        colour = COLOUR_RGB[COLOURS[k]]
        bow = glyph(k, dy, dx + 0.2, 0.17)
        shaft = (np.abs(dy + 0.01) < 0.045) & (dx > -0.1) & (dx < 0.38)
        teeth = (dy > 0) & (dy < 0.18) & (((dx > 0.13) & (dx < 0.2)) | ((dx > 0.29) & (dx < 0.38)))
        shape = bow | shaft | teeth
        _shadow(img, _dilate(shape, _px(size, 1)), size)
        _paint(img, shape, colour, dy, dx, size)
        hole = np.hypot(dy - (0.03 if k == 2 else 0), dx + 0.2) < 0.055
        img[hole] = KEY_HOLE
        return img

    draw.__name__ = f"key_{COLOURS[k]}"
    return draw


def door(k: int):
    """The tile of the locked door of colour `k`: a coloured plank door in a wall frame, with the
    colour's glyph on a plaque and a keyhole below it."""

    def draw(size: int) -> np.ndarray:
        colour = COLOUR_RGB[COLOURS[k]]
        panel = _lit(colour, -0.45)
        img = _fill(size, panel) + _grain(size, 4, 10 + k)
        frame = _px(size, 3)
        plank = max(2, (size - 2 * frame) // 4)
        for x in range(frame + plank, size - frame, plank):  # the seams between planks
            img[:, x : x + _px(size, 1)] = _lit(colour, -0.65)
        for y in (frame + _px(size, 3), size - frame - _px(size, 4)):  # iron bands
            img[y : y + _px(size, 2), :] = STEEL_DARK
            img[y, :] = STEEL
        _bevel(
            img,
            (frame, frame, size - frame, size - frame),
            _px(size, 1),
            _lit(colour, -0.2),
            _lit(colour, -0.7),
        )
        dy, dx = _grid(size)
        plaque = glyph(k, dy + 0.13, dx, 0.15)
        _paint(img, plaque, colour, dy, dx, size)
        hole = (np.hypot(dy - 0.12, dx) < 0.06) | (
            (np.abs(dx) < 0.035 + (dy - 0.12) * 0.25) & (dy > 0.12) & (dy < 0.25)
        )
        plate = (np.abs(dx) < 0.1) & (dy > 0.03) & (dy < 0.31)
        img[plate] = STEEL_LIGHT
        img[plate & (dx > 0.05)] = STEEL
        img[hole] = RECESS
        _bevel(img, (0, 0, size, size), frame, WALL_LIGHT, WALL_DARK)
        return img

    draw.__name__ = f"door_{COLOURS[k]}"
    return draw


def open_door(size: int) -> np.ndarray:
    """An open door: floor seen through a doorway, a wall lintel and jambs, the door leaf folded
    flat against the left jamb on its hinges."""
    img = floor(size)
    jamb, lintel = _px(size, 5), _px(size, 6)
    img[lintel:, jamb : size - jamb] += 14  # light falling through the doorway
    img[size - _px(size, 2) :, jamb : size - jamb] = STEEL  # the sill
    for box in ((0, 0, size, jamb), (0, size - jamb, size, size), (0, 0, lintel, size)):
        y0, x0, y1, x1 = box
        img[y0:y1, x0:x1] = WALL
        _bevel(img, box, _px(size, 2), WALL_LIGHT, WALL_DARK)
    leaf = _px(size, 3)
    img[lintel:, jamb : jamb + leaf] = (96, 74, 52)  # the open leaf, seen edge-on
    img[lintel:, jamb + leaf - _px(size, 1) : jamb + leaf] = (60, 44, 30)
    for y in (lintel + _px(size, 4), size - _px(size, 6)):  # its hinges
        img[y : y + _px(size, 3), jamb - _px(size, 1) : jamb + leaf] = STEEL_LIGHT
    return img


def landmark(k: int):
    """The tile of the landmark of colour `k`: a round stone pad rimmed in the colour, its
    glyph large and glowing in the middle, with four light marks around it."""

    def draw(size: int) -> np.ndarray:
        img = floor(size)
        dy, dx = _grid(size)
        colour = COLOUR_RGB[COLOURS[k]]
        d = np.hypot(dy, dx)
        glow = np.clip(1 - d / 0.5, 0, 1)[..., None] * 0.35
        img = img * (1 - glow) + np.asarray(colour, np.float32) * glow
        pad = d < 0.4
        img[_dilate(pad, _px(size, 1)) & ~pad] = INK
        img[pad] = STEEL_DARK
        img[pad & (d > 0.33)] = _lit(colour, -0.35)
        img[pad & (d > 0.33) & (dy + dx < 0)] = _lit(colour, -0.1)
        for sy, sx in ((-1, 0), (1, 0), (0, -1), (0, 1)):  # the beacon's light marks
            mark = (np.abs(dy - sy * 0.445) < 0.05 + 0.02 * abs(sx)) & (
                np.abs(dx - sx * 0.445) < 0.05 + 0.02 * abs(sy)
            )
            img[mark] = _lit(colour, 0.2)
        face = glyph(k, dy + (0.02 if k == 2 else 0), dx, 0.22)
        _paint(img, face, colour, dy, dx, size)
        return img

    draw.__name__ = f"landmark_{COLOURS[k]}"
    return draw


def food(size: int) -> np.ndarray:
    """Food: a round berry bush that fills its cell (nobody walks through it); its level is a
    badge drawn by the renderer."""
    img = floor(size)
    dy, dx = _grid(size)
    lobes = ((0.05, -0.2, 0.22), (0.05, 0.2, 0.22), (-0.14, 0.0, 0.25), (0.14, 0.0, 0.25))
    bush = np.zeros((size, size), bool)
    for cy, cx, r in lobes:
        bush |= np.hypot(dy - cy, dx - cx) < r
    _shadow(img, _dilate(bush, _px(size, 1)), size)
    _paint(img, bush, BUSH, dy, dx, size)
    for cy, cx, r in lobes:  # each lobe's lit top
        img[bush & (np.hypot(dy - cy + 0.08, dx - cx + 0.06) < r * 0.45)] = BUSH_LIGHT
    for cy, cx in ((-0.2, -0.08), (-0.04, 0.16), (0.06, -0.22), (0.2, 0.04), (-0.08, -0.02)):
        berry = np.hypot(dy - cy, dx - cx) < 0.06
        img[_dilate(berry, _px(size, 1)) & ~berry] = INK
        img[berry] = BERRY
        img[berry & (dy - cy < -0.02) & (dx - cx < -0.01)] = (220, 235, 255)
    return img


def base(team: int):
    """The tile of team `team`'s base (0 west, 1 east): a pad in the team colour with chevrons
    pointing to its side and the team's body shape (round, diamond) as an emblem."""

    def draw(size: int) -> np.ndarray:
        img = floor(size)
        colour = np.asarray(TEAM_RGB[team], np.float32)
        edge = _px(size, 2)
        inner = np.s_[edge : size - edge, edge : size - edge]
        img[inner] = img[inner] * 0.7 + colour * 0.3
        _bevel(img, (edge, edge, size - edge, size - edge), _px(size, 2), colour, _lit(colour, -0.4))
        dy, dx = _grid(size)
        side = -1 if team == 0 else 1
        arm = np.abs(side * dx - 0.41 + np.abs(dy) * 0.8) < 0.05  # a chevron like < or >, outward
        img[arm & (np.abs(dy) < 0.21)] = _lit(colour, 0.25)
        if team == 0:
            emblem = np.hypot(dy, dx)
            ring, hollow = (emblem < 0.2) & (emblem > 0.11), emblem <= 0.11
        else:
            emblem = np.abs(dy) + np.abs(dx)
            ring, hollow = (emblem < 0.25) & (emblem > 0.14), emblem <= 0.14
        img[_dilate(ring | hollow, _px(size, 1)) & ~(ring | hollow)] = INK
        img[ring] = colour
        img[ring & (dy + dx < 0)] = _lit(colour, 0.3)
        img[hollow] = _lit(colour, -0.7)
        return img

    draw.__name__ = f"base_{('west', 'east')[team]}"
    return draw


TERRAIN = {
    "apple": apple,
    **{f"key_{c}": key(k) for k, c in enumerate(COLOURS)},
    **{f"door_{c}": door(k) for k, c in enumerate(COLOURS)},
    "open_door": open_door,
    **{f"landmark_{c}": landmark(k) for k, c in enumerate(COLOURS)},
    "food": food,
    "base_west": base(0),
    "base_east": base(1),
}
