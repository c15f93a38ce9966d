"""The art of `Scenario.sprites`: what the renderer draws over a cell beyond terrain and bodies.

Each kind of `worlds.scenario.SPRITES` is drawn in numpy on a 32-pixel RGBA canvas (the design
size of the tiles) and scaled to the tile size like the PNG art, cached per (tile, kind, colour,
label). Where on the cell each kind goes, so that they can share an agent's cell:

    carried_flag | frozen's snowflake | bubble          top row
                 |    agent body      |
    carried_key  |                    | level           bottom row

A flag stands on the ground (drawn under the bodies); frost rims the cell and leaves its middle,
the agent's colour, untouched.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from worlds import font
from worlds.scenario import SPRITES
from worlds.tiles import STEEL_DARK, STEEL_LIGHT, _dilate
from worlds.tiles_worlds2 import COLOUR_RGB, INK, TEAM_RGB, glyph

S = 32  # design size, in pixels
GROUND = ("flag",)  # kinds drawn under the bodies; the rest go over them
BADGE = (30, 32, 44)
BADGE_RIM = (228, 230, 236)
PAPER = (246, 246, 240)
ICE = (170, 222, 255)
FROST = (236, 248, 255)
POLE_TOP = (255, 214, 90)


class Canvas:
    """A 32-pixel RGBA drawing: float rgb[S, S, 3] and coverage alpha[S, S]."""

    def __init__(self) -> None:
        self.rgb = np.zeros((S, S, 3), np.float32)
        self.alpha = np.zeros((S, S), np.float32)
        self.y, self.x = np.mgrid[0:S, 0:S] + 0.5  # pixel centres

    def put(self, where: np.ndarray, colour, alpha: float = 1.0) -> None:
        self.rgb[where] = colour
        self.alpha[where] = alpha

    def shape(self, inside: np.ndarray, colour, outline=INK) -> None:
        """`inside` in `colour` with a one-pixel outline around it."""
        self.put(_dilate(inside, 1) & ~inside, outline)
        self.put(inside, colour)

    def box(self, y0: int, x0: int, y1: int, x1: int) -> np.ndarray:
        """The pixels of a box with its corners cut round, rows y0..y1-1 and columns x0..x1-1."""
        inside = (self.y > y0) & (self.y < y1) & (self.x > x0) & (self.x < x1)
        corners = (np.minimum(self.y - y0, y1 - self.y) < 1) & (np.minimum(self.x - x0, x1 - self.x) < 1)
        return inside & ~corners

    def write(self, chars: str, y0: int, x0: int, colour) -> None:
        ink = font.text(chars)
        block = np.zeros((S, S), bool)
        block[y0 : y0 + ink.shape[0], x0 : x0 + ink.shape[1]] = ink
        self.put(block, colour)


def _colour_index(colour: tuple[int, int, int]) -> int | None:
    """Which item colour `colour` is (its glyph index), or None for another colour."""
    for k, rgb in enumerate(COLOUR_RGB.values()):
        if tuple(colour) == rgb:
            return k
    return None


def _lit(colour, amount: float) -> np.ndarray:
    c = np.asarray(colour, np.float32)
    return c + (255 - c) * amount if amount >= 0 else c * (1 + amount)


def flag(c: Canvas, colour, label: str) -> None:
    """A flag on a pole, standing in the cell; a team colour's flag wears the team's shape."""
    shadow = ((c.y - 28) / 1.6) ** 2 + ((c.x - 12) / 6) ** 2 < 1
    c.put(shadow, (0, 0, 0), 0.45)
    pole = (c.x > 9) & (c.x < 12) & (c.y > 5) & (c.y < 28.5)
    top = np.hypot(c.y - 5, c.x - 10.5) < 2.2
    wave = np.round(1.4 * np.sin((c.x - 12) / 13 * np.pi * 1.5) * np.clip((c.x - 12) / 6, 0, 1))
    cloth = (c.x > 12) & (c.x < 27) & (c.y > 6 + wave) & (c.y < 17 + wave)
    c.put(_dilate(pole | top | cloth, 1) & ~(pole | top | cloth), INK)
    c.put(pole, STEEL_LIGHT)
    c.put(pole & (c.x > 11), STEEL_DARK)
    c.put(top, POLE_TOP)
    c.put(cloth, colour)
    c.put(cloth & (c.y < 9.5 + wave), _lit(colour, 0.3))
    c.put(cloth & (c.y > 14 + wave), _lit(colour, -0.25))
    if tuple(colour) in TEAM_RGB:
        emblem_of(c, TEAM_RGB.index(tuple(colour)), 11, 19.5, 3)


def emblem_of(c: Canvas, team: int, cy: float, cx: float, r: float) -> None:
    """Team `team`'s body shape (round, diamond), dark, centred on (cy, cx)."""
    dy, dx = c.y - cy, c.x - cx
    inside = np.hypot(dy, dx) < r if team == 0 else np.abs(dy) + np.abs(dx) < r * 1.2
    c.put(inside, INK)


def _badge(c: Canvas, y0: int, x0: int) -> None:
    """A dark 13-pixel badge with a light rim, so it stands out on any body colour."""
    c.put(c.box(y0, x0, y0 + 13, x0 + 13), INK)
    c.put(c.box(y0 + 1, x0 + 1, y0 + 12, x0 + 12), BADGE_RIM)
    c.put(c.box(y0 + 2, x0 + 2, y0 + 11, x0 + 11), BADGE)


def carried_flag(c: Canvas, colour, label: str) -> None:
    """A small flag on a badge in the top left corner."""
    _badge(c, 0, 0)
    c.put((c.x > 3) & (c.x < 4) & (c.y > 2) & (c.y < 11), STEEL_LIGHT)
    c.put((c.x > 4) & (c.x - 4 < 7 * (1 - np.abs(c.y - 5) / 3)), colour)  # a pennant


def carried_key(c: Canvas, colour, label: str) -> None:
    """A small key on a badge in the bottom left corner; an item colour's key has its glyph."""
    _badge(c, S - 13, 0)
    k = _colour_index(colour)
    bow = glyph(k, c.y - 24.5, c.x - 5, 3) if k is not None else np.hypot(c.y - 24.5, c.x - 5) < 3
    shaft = (c.y > 24) & (c.y < 25) & (c.x > 7) & (c.x < 11)
    teeth = (c.y > 25) & (c.y < 27) & ((c.x > 8) & (c.x < 9) | (c.x > 10) & (c.x < 11))
    c.put(bow | shaft | teeth, colour)
    c.put((c.y > 24) & (c.y < 25) & (c.x > 4) & (c.x < 5), BADGE)  # the bow's hole


def bubble(c: Canvas, colour, label: str) -> None:
    """A speech bubble in the top right corner with up to four characters of `label`."""
    chars = label.strip()[:4] or "?"
    w = 4 * len(chars) + 3
    x0 = S - 1 - w
    body = c.box(1, x0, 9, S - 1)  # one pixel in, for the outline
    tail = (c.y > 9) & (c.y < 11) & (c.x > x0 + 2) & (c.x < x0 + 5) | (c.y > 11) & (c.y < 12) & (
        c.x > x0 + 2
    ) & (c.x < x0 + 4)
    paper = PAPER if tuple(colour) == (255, 255, 255) else _lit(colour, 0.65)
    c.shape(body | tail, paper)
    c.write(chars, 2, x0 + 2, INK)


def level(c: Canvas, colour, label: str) -> None:
    """A number badge in the bottom right corner: up to three digits of `label`."""
    digits = label.strip()[:3] or "?"
    w = 4 * len(digits) + 1
    x0 = S - 1 - w
    paper = PAPER if tuple(colour) == (255, 255, 255) else colour
    c.shape(c.box(S - 9, x0, S - 1, S - 1), paper)
    c.write(digits, S - 8, x0 + 1, INK)


def frozen(c: Canvas, colour, label: str) -> None:
    """Frost: ice creeping in from the cell's edges with crystal spikes, and a snowflake at the
    top; the middle of the cell (the agent's colour) stays clear."""
    edge = np.minimum(np.minimum(c.y, S - c.y), np.minimum(c.x, S - c.x))
    c.put(edge < 6, ICE, 0.0)
    c.alpha[:] = np.clip(1 - edge / 6, 0, 1) * 0.7
    along = np.where(np.minimum(c.y, S - c.y) < np.minimum(c.x, S - c.x), c.x, c.y)
    spikes = (edge < 2 + 3 * (np.abs(np.sin(along * 0.9)) > 0.8)) & (edge < 5)
    c.put(spikes, FROST, 0.85)
    diagonal = (np.abs(np.abs(c.y - S / 2) - np.abs(c.x - S / 2)) < 0.8) & (edge < 5)
    c.put(diagonal, FROST, 0.9)
    dy, dx = c.y - 5, c.x - 16
    flake = ((np.abs(dy) < 0.6) & (np.abs(dx) < 4)) | ((np.abs(dx) < 0.6) & (np.abs(dy) < 4))
    flake |= (np.abs(np.abs(dy) - np.abs(dx)) < 0.6) & (np.abs(dy) < 3)
    c.shape(flake, FROST, outline=(40, 80, 140))


ART = {"flag": flag, "carried_flag": carried_flag, "carried_key": carried_key, "bubble": bubble}
ART |= {"level": level, "frozen": frozen}


@lru_cache(maxsize=512)
def sprite_art(
    tile: int, kind: str, colour: tuple[int, int, int], label: str
) -> tuple[np.ndarray, np.ndarray]:
    """Sprite `kind` at `tile` pixels: rgb float32[T, T, 3] and alpha float32[T, T, 1]."""
    if kind not in ART:
        raise ValueError(f"unknown sprite kind {kind!r}; expected one of {SPRITES}")
    canvas = Canvas()
    ART[kind](canvas, tuple(int(v) for v in colour), label)
    rgba = np.dstack([canvas.rgb, canvas.alpha[..., None] * 255])
    image = Image.fromarray(np.clip(np.rint(rgba), 0, 255).astype(np.uint8), "RGBA")
    if tile != S:  # as the tiles: crisp when enlarged, averaged when shrunk
        image = image.resize((tile, tile), Image.Resampling.NEAREST if tile > S else Image.Resampling.BOX)
    out = np.asarray(image).astype(np.float32)
    rgb, alpha = out[..., :3], out[..., 3:] / 255
    rgb.flags.writeable = alpha.flags.writeable = False
    return rgb, alpha
