"""The tile art of the rgb renderer, drawn in numpy and saved as PNGs in `assets/tiles/`.

`python -m worlds.tiles` redraws them. Terrain tiles are RGB. Masks (agent bodies, the goal's
glow) are greyscale-with-alpha ("LA") so one image tints to any colour: A is coverage and L a
shade, where 128 means exactly the tint colour, lower darkens it (0 is black) and higher
lightens it (255 is white); see `tint`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from worlds.maps import ASSETS_DIR

TILES_DIR = ASSETS_DIR / "tiles"
SIZE = 32

FLOOR = (35, 40, 56)
FLOOR_LINE = (25, 28, 40)
WALL = (70, 78, 104)
WALL_LIGHT = (108, 118, 152)
WALL_DARK = (40, 45, 62)
MORTAR = (54, 61, 84)
VOID = (10, 11, 16)
GOLD = (255, 196, 60)
STEEL = (92, 102, 132)
STEEL_LIGHT = (150, 162, 196)
STEEL_DARK = (52, 58, 78)
LOCK = (182, 150, 255)  # the accent shared by plates and gates: stand here, that opens
RECESS = (16, 18, 26)

# Shades of the LA masks.
INK, SHADE, BODY, LIT, SHINE = 24, 92, 128, 172, 240


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre offsets from the tile centre, in tile units (-0.5..0.5): (dy, dx)."""
    u = (np.arange(size) + 0.5) / size - 0.5
    dy, dx = np.meshgrid(u, u, indexing="ij")
    return dy, dx


def _fill(size: int, colour) -> np.ndarray:
    return np.broadcast_to(np.asarray(colour, np.float32), (size, size, 3)).copy()


def _grain(size: int, amount: float, seed: int) -> np.ndarray:
    """Fixed per-pixel noise, so the art is the same on every run."""
    return np.random.default_rng(seed).uniform(-amount, amount, (size, size, 1)).astype(np.float32)


def _px(size: int, n: int) -> int:
    """`n` pixels of the 32-pixel design at this size (at least one)."""
    return max(1, round(n * size / 32))


def _bevel(img: np.ndarray, box: tuple[int, int, int, int], width: int, light, dark) -> None:
    """Light top and left edges, dark bottom and right edges inside box (y0, x0, y1, x1)."""
    y0, x0, y1, x1 = box
    for k in range(width):
        img[y0 + k, x0 + k : x1 - k] = light
        img[y0 + k : y1 - k, x0 + k] = light
        img[y1 - 1 - k, x0 + k : x1 - k] = dark
        img[y0 + k + 1 : y1 - k, x1 - 1 - k] = dark


def void(size: int) -> np.ndarray:
    return _fill(size, VOID) + _grain(size, 2, 1)


def floor(size: int) -> np.ndarray:
    img = _fill(size, FLOOR) + _grain(size, 3, 2)
    img[0, :] = FLOOR_LINE  # one line per cell edge, so tiled floors draw a faint grid
    img[:, 0] = FLOOR_LINE
    return img


def wall(size: int) -> np.ndarray:
    img = _fill(size, WALL) + _grain(size, 5, 3)
    half, quarter, line = size // 2, size // 4, _px(size, 1)
    img[half - line // 2 : half - line // 2 + line, :] = MORTAR  # two courses of bricks
    img[:half, half : half + line] = MORTAR
    img[half:, quarter : quarter + line] = MORTAR
    img[half:, 3 * quarter : 3 * quarter + line] = MORTAR
    _bevel(img, (0, 0, size, size), _px(size, 3), WALL_LIGHT, WALL_DARK)
    return img


def goal_mark(size: int) -> np.ndarray:
    """LA mask of the goal: a soft halo, a bright ring and a glowing core with a sparkle."""
    dy, dx = _grid(size)
    d = np.hypot(dy, dx) * 2  # 0 at the centre, 1 at the middle of an edge
    alpha = np.clip(1.0 - d, 0, 1) ** 1.5 * 0.55
    shade = np.full((size, size), BODY, np.float32)
    ring = (d > 0.62) & (d < 0.8)
    alpha[ring], shade[ring] = 1.0, BODY
    rim = (d >= 0.8) & (d < 0.86)
    alpha[rim], shade[rim] = 0.9, SHADE
    core = d < 0.34
    alpha[core], shade[core] = 1.0, 190
    sparkle = (np.abs(dy) * 2 + np.abs(dx) * 10 < 0.42) | (np.abs(dx) * 2 + np.abs(dy) * 10 < 0.42)
    alpha[sparkle & (d < 0.42)], shade[sparkle & (d < 0.42)] = 1.0, 250
    return np.stack([shade, alpha * 255], axis=-1)


def plate(size: int) -> np.ndarray:
    """A pressure plate: a round button raised from a sunken socket, ringed with the lock
    accent that gates share (stand here, that opens)."""
    img = floor(size)
    edge = _px(size, 3)
    img[edge : size - edge, edge : size - edge] = np.asarray(RECESS) * 0.5 + np.asarray(STEEL_DARK) * 0.5
    _bevel(img, (edge, edge, size - edge, size - edge), _px(size, 1), STEEL_DARK, STEEL)  # sunken
    dy, dx = _grid(size)
    d = np.hypot(dy, dx)
    img[d < 0.36] = np.asarray(LOCK) * 0.85
    img[d < 0.3] = STEEL_DARK  # the button's side, under its face
    face = np.hypot(dy + 0.03, dx + 0.02) < 0.27
    img[face] = STEEL
    img[face & (np.hypot(dy + 0.03, dx + 0.02) > 0.2) & (dy + dx < -0.05)] = STEEL_LIGHT
    img[np.hypot(dy + 0.03, dx + 0.02) < 0.08] = np.asarray(LOCK) * 0.7
    return img


def gate(size: int) -> np.ndarray:
    """A closed portcullis: bars over a dark recess, set in a bevelled frame, with a lock."""
    img = _fill(size, RECESS)
    frame = _px(size, 3)
    bar = _px(size, 3)
    inner = size - 2 * frame
    for k in range(4):
        x = frame + (2 * k + 1) * inner // 8 - bar // 2
        img[:, x : x + bar] = STEEL
        img[:, x : x + max(1, bar // 3)] = STEEL_LIGHT
        img[:, x + bar - max(1, bar // 3) : x + bar] = STEEL_DARK
    for y in (size // 3, 2 * size // 3):
        img[y - bar // 2 : y - bar // 2 + bar, :] = STEEL
        img[y - bar // 2, :] = STEEL_LIGHT
    lock = _px(size, 4)
    c = size // 2
    img[c - lock : c + lock, c - lock : c + lock] = LOCK
    img[c - lock : c + lock, c + lock - _px(size, 1) : c + lock] = np.asarray(LOCK) * 0.7
    img[c - lock + _px(size, 1) : c + lock - _px(size, 1), c - _px(size, 1) // 2] = RECESS  # keyhole
    _bevel(img, (0, 0, size, size), frame, WALL_LIGHT, WALL_DARK)
    return img


def open_gate(size: int) -> np.ndarray:
    """An open gate: floor, the frame's corner posts, the bars drawn up into the lintels."""
    img = floor(size)
    post, stub = _px(size, 7), _px(size, 3)
    glow = np.asarray(LOCK, np.float32)
    inner = size - 2 * post
    for k in range(4):  # retracted bar ends along both lintels
        x = post + (2 * k + 1) * inner // 8 - stub // 2
        img[post // 2 : post // 2 + stub, x : x + stub] = STEEL
        img[size - post // 2 - stub : size - post // 2, x : x + stub] = STEEL
    seam = img[post : size - post, :]
    seam[:, post - 1] = seam[:, post - 1] * 0.4 + glow * 0.6  # the lit threshold
    seam[:, size - post] = seam[:, size - post] * 0.4 + glow * 0.6
    for y0, x0 in ((0, 0), (0, size - post), (size - post, 0), (size - post, size - post)):
        img[y0 : y0 + post, x0 : x0 + post] = WALL
        _bevel(img, (y0, x0, y0 + post, x0 + post), _px(size, 2), WALL_LIGHT, WALL_DARK)
    return img


def _body(size: int, inside: np.ndarray, rim: np.ndarray, light: np.ndarray) -> np.ndarray:
    """LA mask of an agent: a drop shadow, a dark outline, then the body lit from the top left."""
    dy, dx = _grid(size)
    shade = np.full((size, size), BODY, np.float32)
    alpha = np.zeros((size, size), np.float32)
    shadow = ((dy - 0.4) / 0.09) ** 2 + (dx / 0.32) ** 2 < 1
    shade[shadow], alpha[shadow] = 0, 0.5
    outline = _dilate(inside, _px(size, 1)) & ~inside
    shade[outline], alpha[outline] = INK, 1.0
    shade[inside], alpha[inside] = BODY, 1.0
    shade[inside & rim & light] = LIT
    shade[inside & rim & ~light] = SHADE
    return np.stack([shade, alpha * 255], axis=-1)


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def _eyes(mask: np.ndarray, size: int, look: tuple[float, float], brow: bool) -> None:
    """Two eyes in the upper body (the index digit goes below the middle); `look` shifts the
    pupils, `brow` adds a frown slanting down to the middle."""
    dy, dx = _grid(size)
    for side in (-1, 1):
        ex = side * 0.13
        eye = (np.abs(dy + 0.17) < 0.075) & (np.abs(dx - ex) < 0.055)
        pupil = (np.abs(dy + 0.17 - look[0]) < 0.035) & (np.abs(dx - ex - look[1] * side) < 0.035)
        mask[eye, 0] = 255
        mask[eye & pupil, 0] = INK
        if brow:
            slope = dy + 0.26 + 0.35 * (side * (dx - ex))  # lower toward the middle
            frown = (np.abs(slope) < 0.03) & (np.abs(dx - ex) < 0.08)
            mask[frown, 0] = INK


def agent_round(size: int) -> np.ndarray:
    """Team 0's body: a ball with a shine and a frown (the hunters in tag_v0)."""
    dy, dx = _grid(size)
    d = np.hypot(dy, dx)
    mask = _body(size, d < 0.41, d > 0.32, dy + dx < 0)
    shine = np.hypot(dy + 0.25, dx + 0.25) < 0.05
    mask[shine, 0] = SHINE
    _eyes(mask, size, look=(0.03, -0.02), brow=True)
    return mask


def agent_diamond(size: int) -> np.ndarray:
    """Team 1's body: a cut gem, lit facets above and shaded facets below, wide-eyed."""
    dy, dx = _grid(size)
    d = np.abs(dy) + np.abs(dx)
    mask = _body(size, d < 0.47, d > 0.36, dy < 0)
    facet = (d > 0.36) & (d < 0.47)
    mask[facet & (dy < 0) & (dx > 0), 0] = 150  # the upper right facet catches less light
    mask[facet & (dy >= 0) & (dx < 0), 0] = 108
    _eyes(mask, size, look=(-0.03, 0.0), brow=False)
    return mask


TERRAIN = {"void": void, "floor": floor, "wall": wall, "plate": plate, "gate": gate, "open_gate": open_gate}
MASKS = {"goal_mark": goal_mark, "agent_round": agent_round, "agent_diamond": agent_diamond}


def goal(size: int) -> np.ndarray:
    """The neutral goal: the goal mark tinted gold over floor (the renderer tints it per agent)."""
    mark = goal_mark(size)
    alpha = mark[..., 1:] / 255
    return floor(size) * (1 - alpha) + tint(mark[..., 0], np.asarray(GOLD, np.float32)) * alpha


def tint(shade: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Colour float[..., 3] shaded by an LA mask's L channel float[...]: 128 gives the colour."""
    v = shade[..., None].astype(np.float32)
    return np.where(v < BODY, colour * (v / BODY), colour + (255 - colour) * ((v - BODY) / 127))


def draw_tiles(out_dir: str | Path = TILES_DIR, size: int = SIZE) -> list[Path]:
    """Draw every tile at `size` pixels and save them as PNGs in `out_dir`; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from worlds.tiles_worlds2 import TERRAIN as WORLDS2  # it draws with this module's tools

    paths = []
    for name, draw in {**TERRAIN, "goal": goal, **WORLDS2}.items():
        rgb = np.clip(np.rint(draw(size)), 0, 255).astype(np.uint8)
        paths.append(out / f"{name}.png")
        Image.fromarray(rgb, "RGB").save(paths[-1])
    for name, draw in MASKS.items():
        la = np.clip(np.rint(draw(size)), 0, 255).astype(np.uint8)
        paths.append(out / f"{name}.png")
        Image.fromarray(la, "LA").save(paths[-1])
    return paths


def main(argv: list[str] | None = None) -> None:
    """`python -m worlds.tiles` redraws the tiles; `--sheet PATH` also saves a contact sheet of
    the Worlds II tiles and sprites at 32 and 64 pixels, for looking at them."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m worlds.tiles", description=main.__doc__)
    parser.add_argument("--sheet", metavar="PATH", help="also save a contact sheet PNG here")
    args = parser.parse_args(argv)
    for path in draw_tiles():
        print(path)
    if args.sheet:
        from worlds.tilesheet import save_sheet  # it renders with worlds.render, which imports us

        print(save_sheet(args.sheet))


if __name__ == "__main__":
    main()
