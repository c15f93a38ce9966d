"""What the viewer draws: the board at a crisp tile size, the thinking overlay, the outcome
banner and the side panel (step, scores, seats, keys). Used by the window and, on offscreen
surfaces, by headless `watch`, screenshots and `arena export`, so videos look like the game.

`hud_rows` is the panel as data (tests read it); `draw` paints a whole frame on a surface;
`frame` returns one as uint8[H, W, 3] without any window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402  (after hiding pygame's banner)

from worlds.render import TEAM_SHAPES, agent_colour  # noqa: E402

BACKGROUND = (10, 11, 16)
PANEL = (19, 21, 30)
EDGE = (46, 52, 72)
TEXT = (228, 232, 242)
DIM = (138, 146, 172)
GOLD = (255, 196, 60)
GOOD = (120, 222, 140)
BAD = (244, 112, 100)
CARD = (12, 13, 20, 215)
PANEL_WIDTH = 330
VIDEO_PANEL_WIDTH = 280
MARGIN = 12
CONTROLS = (
    ("Space", "pause"),
    (".", "one step"),
    ("+  -", "speed"),
    ("R", "restart"),
    ("N", "next episode"),
    ("T", "thoughts"),
    ("Tab", "select agent"),
    ("H", "take over"),
    ("M", "turn-based"),
    ("F12", "screenshot"),
    ("Esc", "quit"),
)
REPLAY_CONTROLS = tuple(c for c in CONTROLS if c[0] not in ("N", "H", "M"))


@dataclass
class View:
    """How the viewer is set, for the HUD: everything it shows that is not in the match."""

    overlay: bool = False  # thinking bars above agents
    legend: bool = True  # keys in the panel (off in videos)
    paused: bool = False
    turn_based: bool = False
    speed: float = 6.0  # steps per second in real time
    selected: int | None = None
    message: str = ""
    replay: bool = False
    waiting: list[str] = field(default_factory=list)  # human seats the world waits for
    waiting_start: bool = False  # play: the world waits for the first key


# -- fonts ------------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def font(size: int, bold: bool = False) -> pygame.font.Font:
    if not pygame.font.get_init():
        pygame.font.init()
    f = pygame.font.Font(None, size)  # pygame's built-in font: nothing to ship or download
    f.set_bold(bold)
    return f


TITLE, BODY, SMALL, TINY = 34, 22, 19, 16


# -- the panel as data ------------------------------------------------------------------------
def hud_rows(match, view: View) -> list[tuple]:
    """The panel, top to bottom, as (kind, ...) rows; `hud_text` flattens them to strings."""
    rows: list[tuple] = [("title", match.scenario.name + ("  REPLAY" if view.replay else ""))]
    rows += [("small", line, DIM) for line in _wrap(OBJECTIVES.get(match.scenario.name, ""), 40)]
    rows.append(("text", f"Step {match.steps} / {match.scenario.max_cycles}    seed {match.seed}", TEXT))
    if view.legend or match.done:  # a video has no speed or pause to speak of
        rows.append(("text", *_status(match, view)))
    rows.append(("gap", 6))
    rows.append(("header", "AGENTS", "return"))
    for i in range(match.scenario.num_agents):
        shape = TEAM_SHAPES[int(match.scenario.teams[i]) % len(TEAM_SHAPES)]
        label, status, ret = match.seating.label(i), match.status(i), float(match.returns[i])
        rows.append(("agent", i, match.agents[i], label, status, ret, shape))
    teams = match.team_returns()
    if len(teams) > 1:
        rows.append(("gap", 4))
        rows.append(("teams", list(teams.items())))
    outcome = match.outcome()
    if outcome:
        rows.append(("gap", 6))
        rows.append(("outcome", outcome, GOOD if match.success() else GOLD))
    if view.selected is not None:
        rows += _thought_rows(match, view.selected)
    if view.overlay and (match.think_kind > 0).any():
        rows += [("gap", 4), ("header", "BARS ABOVE AGENTS: ONE PER ACTION", "")]
        rows.append(("glyphs", _glyph_key(match)))
    if view.legend:
        rows += _legend_rows(match, view)
    return rows


def hud_text(match, view: View) -> list[str]:
    lines = []
    for row in hud_rows(match, view):
        kind = row[0]
        if kind == "agent":
            _, _, name, label, status, ret, _ = row
            lines.append(" ".join(p for p in (name, label, status, f"{ret:+.2f}") if p))
        elif kind == "teams":
            lines.append("   ".join(f"{t} {v:+.2f}" for t, v in row[1]))
        elif kind == "keys":
            lines.append("   ".join(f"{k} {d}" for k, d in row[1]))
        elif kind == "glyphs":
            lines.append("   ".join(label for _, label in row[1]))
        elif kind != "gap":
            lines.append(" ".join(str(p) for p in row[1:] if isinstance(p, str)))
    return lines


# what each scenario asks, under its name in the panel (tests/arena/test_viewer.py: every one)
OBJECTIVES = {
    "maze_v0": "Each agent walks to the goal in its colour.",
    "plates_v0": "Stand on both plates to open the gate, then reach the goal.",
    "tag_v0": "Hunters catch every runner; runners stay free until time is up.",
    "signal_v0": "The speaker sees the target and talks; the listener walks to it.",
    "harvest_v0": "Eat apples; they regrow only near apples left. Zap freezes a rival.",
    "flags_v0": "Carry the other team's flag to your base; tag carriers on your side.",
    "keys_v0": "Take the key of a door's colour to open it, then reach the goal.",
    "forage_v0": "Reach food together: the levels beside it must add up to its level.",
}


def _status(match, view: View) -> tuple[str, tuple]:
    if view.waiting_start and not match.done:
        return "Press any key to start", GOOD
    if match.done:
        return "Episode over", GOLD
    if view.paused:
        return "PAUSED  (Space resumes, . steps)", GOLD
    if view.turn_based:
        if view.waiting:
            return "Your move: " + ", ".join(view.waiting), GOOD
        return "Turn-based: press . to step", DIM
    return f"Playing  {view.speed:g} steps/s", DIM


def _thought_rows(match, agent: int) -> list[tuple]:
    name = match.agents[agent]
    rows: list[tuple] = [("gap", 6), ("header", f"{name} THINKS", "")]
    kind = int(match.think_kind[agent])
    if kind == 0 and agent not in match.think_extras:
        return [*rows, ("small", "(nothing shown by " + match.seating.label(agent) + ")", DIM)]
    if kind:
        values = match.think_values[agent]
        order = [a for a in np.argsort(-np.nan_to_num(values, nan=-np.inf)) if np.isfinite(values[a])][:4]
        if kind == 1:  # probabilities: the actions it might take, not the ones it rules out
            order = [a for a in order if values[a] >= 0.005] or order[:1]
        fmt = (lambda v: f"{100 * v:.0f}%") if kind == 1 else (lambda v: f"{v:+.2f}")
        words = "  ".join(f"{match.scenario.actions[a]} {fmt(values[a])}" for a in order)
        rows.append(("small", ("p: " if kind == 1 else "Q: ") + words, TEXT))
    actions = match.scenario.actions
    for key, value in match.think_extras.get(agent, {}).items():
        if isinstance(value, list) and len(value) == len(actions):  # a value per action
            best = sorted((v, a) for a, v in enumerate(value) if isinstance(v, (int, float)))[::-1][:3]
            value = "  ".join(f"{actions[a]} {v:+.1f}" for v, a in best)
        for line in _wrap(f"{key}: {value}", 40)[:3]:
            rows.append(("small", line, DIM))
    return rows


def _glyph_key(match) -> list[tuple[list[int], str]]:
    """What the glyphs under the thought bars stand for: noop, the moves, the rest."""
    actions = list(match.scenario.actions)
    others = actions[5:]
    rest = ", ".join(others) if len(others) <= 2 else f"{others[0]}, {others[1]}..."
    return [([0], actions[0]), ([1, 2, 3, 4], "moves"), *([([5], rest)] if others else [])]


def _legend_rows(match, view: View) -> list[tuple]:
    rows: list[tuple] = [("gap", 8)]
    for seat in match.seating.seats:
        legend = getattr(seat.controller, "legend", None)
        if legend is None or not seat.agents:
            continue
        who = ", ".join(match.agents[i] for i in seat.agents)
        rows.append(("header", f"KEYS  {who}", ""))
        rows += _pairs(legend(match.scenario.actions))
    rows.append(("header", "VIEWER", ""))
    rows += _pairs(list(REPLAY_CONTROLS if view.replay else CONTROLS))
    return rows


def _pairs(entries: list[tuple[str, str]]) -> list[tuple]:
    return [("keys", entries[k : k + 2]) for k in range(0, len(entries), 2)]


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


# -- drawing ----------------------------------------------------------------------------------
def board_tile(cells: tuple[int, int], area: tuple[int, int]) -> int:
    """The largest tile that fits `area` (w, h): a multiple of 16 from 32 up, so the 32-pixel
    art scales by whole or half steps and stays crisp; smaller tiles are downsampled."""
    height, width = cells
    tile = min(area[0] // width, area[1] // height)
    return 16 * (tile // 16) if tile >= 32 else max(8, tile)


def draw(surface: pygame.Surface, match, view: View, tile: int | None = None) -> pygame.Rect:
    """Paints the whole frame: board (left, centred), panel (right). Returns the board's rect."""
    surface.fill(BACKGROUND)
    w, h = surface.get_size()
    panel_w = PANEL_WIDTH if view.legend else VIDEO_PANEL_WIDTH
    H, W = match.world.shape
    if tile is None:
        tile = board_tile((H, W), (w - panel_w - 2 * MARGIN, h - 2 * MARGIN))
    board = pygame.Rect(0, 0, W * tile, H * tile)
    board.center = ((w - panel_w) // 2, h // 2)
    surface.blit(board_surface(match, tile), board)
    draw_marks(surface, match, view, board, tile)
    if view.overlay:
        draw_thoughts(surface, match, board, tile)
    if match.done and match.outcome():
        area = pygame.Rect(0, 0, w - panel_w, h)
        hint = view.legend and (REPLAY_HINT if view.replay else PLAY_HINT)
        _banner(surface, board, area, match.outcome(), GOOD if match.success() else GOLD, hint)
    elif view.paused:
        _badge(surface, "PAUSED", (board.x + 6, board.y + 6), GOLD)
    if view.message:
        text = font(SMALL).render(view.message, True, TEXT)
        box = text.get_rect(midbottom=(board.centerx, h - 6)).inflate(14, 8)
        _card(surface, box)
        surface.blit(text, text.get_rect(center=box.center))
    draw_panel(surface, pygame.Rect(w - panel_w, 0, panel_w, h), hud_rows(match, view))
    return board


def frame(match, view: View, tile: int = 48) -> np.ndarray:
    """One frame without a window, uint8[H, W, 3]: the board at `tile` and the panel beside it."""
    H, W = match.world.shape
    panel_w = PANEL_WIDTH if view.legend else VIDEO_PANEL_WIDTH
    height = max(H * tile, panel_height(match, view)) + 2 * MARGIN
    surface = pygame.Surface((W * tile + 2 * MARGIN + panel_w, height))
    draw(surface, match, view, tile)
    return to_array(surface)


_boards: dict[tuple, pygame.Surface] = {}


def board_surface(match, tile: int) -> pygame.Surface:
    """The board of the match's current state at `tile`, drawn once per state: the window
    redraws 30 times a second but the world changes only when it steps."""
    key = (id(match.log), match.steps, tile)  # a new episode has a new log
    if key not in _boards:
        _boards.clear()
        _boards[key] = to_surface(match.board(tile))
    return _boards[key]


def to_surface(image: np.ndarray) -> pygame.Surface:
    h, w = image.shape[:2]
    return pygame.image.frombytes(np.ascontiguousarray(image, dtype=np.uint8).tobytes(), (w, h), "RGB")


def to_array(surface: pygame.Surface) -> np.ndarray:
    w, h = surface.get_size()
    return np.frombuffer(pygame.image.tobytes(surface, "RGB"), dtype=np.uint8).reshape(h, w, 3).copy()


def cell_rect(board: pygame.Rect, tile: int, agent_pos) -> pygame.Rect:
    row, col = (int(v) for v in agent_pos)
    return pygame.Rect(board.x + col * tile, board.y + row * tile, tile, tile)


def draw_marks(surface, match, view: View, board: pygame.Rect, tile: int) -> None:
    """The selected agent's frame and a badge over every agent a person drives."""
    alive, pos = match.world.alive[0], match.world.pos[0]
    if view.selected is not None and alive[view.selected]:
        pygame.draw.rect(surface, TEXT, cell_rect(board, tile, pos[view.selected]).inflate(2, 2), 2, 4)
    for i in np.flatnonzero(alive):
        keys = getattr(match.seating.seat_of(int(i)).controller, "keys", False)
        if keys is False:
            continue  # not a human
        cell = cell_rect(board, tile, pos[i])
        label = {"wasd": "WASD", "arrows": "ARROWS", None: "YOU"}[keys]
        text = font(TINY, bold=True).render(label, True, BACKGROUND)
        box = text.get_rect(center=(cell.centerx, cell.y + 3)).inflate(8, 2)  # on its own cell's top
        box.clamp_ip(board)
        pygame.draw.rect(surface, agent_colour(int(i)), box, 0, 4)
        surface.blit(text, text.get_rect(center=box.center))


def draw_thoughts(surface, match, board: pygame.Rect, tile: int) -> None:
    """Above each agent whose controller shows its thoughts: one bar per action, the chosen
    one in the agent's colour, with the action's glyph under it."""
    alive, pos = match.world.alive[0], match.world.pos[0]
    taken = [cell_rect(board, tile, p).inflate(-tile // 4, -tile // 4) for p in pos[alive]]  # bodies
    for i in np.flatnonzero(alive & (match.think_kind > 0)):
        values = match.think_values[i]
        legal = np.isfinite(values)
        if not legal.any():
            continue
        if match.think_kind[i] == 1:
            heights = np.where(legal, values, 0.0)
        else:  # action values: scaled between the worst and best legal one
            low, high = np.nanmin(values), np.nanmax(values)
            heights = np.where(legal, (values - low) / (high - low) if high > low else 1.0, 0.0)
        cell = cell_rect(board, tile, pos[i])
        count = len(values)
        bar = max(3, (tile + tile // 3) // count)
        card = pygame.Rect(0, 0, bar * count + 6, max(14, tile * 5 // 8))
        card = _place(card, cell, board, taken)
        taken.append(card)
        _card(surface, card)
        glyphs = tile >= 40
        area_h = card.h - 6 - (bar + 2 if glyphs else 0)
        best = int(np.nanargmax(np.where(legal, values, np.nan)))
        for a in range(count):
            x = card.x + 3 + a * bar
            height = int(round(float(heights[a]) * area_h))
            colour = agent_colour(int(i)) if a == best else (DIM if legal[a] else EDGE)
            if height > 0:
                pygame.draw.rect(surface, colour, (x + 1, card.y + 3 + area_h - height, bar - 2, height))
            else:
                pygame.draw.line(
                    surface, EDGE, (x + 1, card.y + 2 + area_h), (x + bar - 2, card.y + 2 + area_h)
                )
            if glyphs:
                _glyph(surface, a, pygame.Rect(x + 1, card.bottom - bar - 2, bar - 2, bar - 2), colour)


def _place(card: pygame.Rect, cell: pygame.Rect, board: pygame.Rect, taken: list) -> pygame.Rect:
    """Where a thought card goes: above its agent, else below, left or right of it, whichever
    covers the least of the other bodies and cards already drawn (the first that covers none)."""
    spots = []
    for anchor in ("midbottom", "midtop", "midright", "midleft"):
        spot = card.copy()
        setattr(spot, anchor, {
            "midbottom": (cell.centerx, cell.y - 1), "midtop": (cell.centerx, cell.bottom + 1),
            "midright": (cell.x - 1, cell.centery), "midleft": (cell.right + 1, cell.centery),
        }[anchor])  # fmt: skip
        spot.clamp_ip(board)
        covered = sum(_area(spot.clip(other)) for other in taken) + _area(spot.clip(cell.inflate(-4, -4)))
        if covered == 0:
            return spot
        spots.append((covered, len(spots), spot))
    return min(spots)[2]


def _area(rect: pygame.Rect) -> int:
    return rect.w * rect.h


def _glyph(surface, action: int, box: pygame.Rect, colour) -> None:
    """noop a dot, moves an arrowhead, an interaction a cross."""
    c, r = box.center, max(2, box.w // 2)
    points = {
        1: [(c[0], c[1] - r), (c[0] - r, c[1] + r // 2), (c[0] + r, c[1] + r // 2)],
        2: [(c[0], c[1] + r), (c[0] - r, c[1] - r // 2), (c[0] + r, c[1] - r // 2)],
        3: [(c[0] + r, c[1]), (c[0] - r // 2, c[1] - r), (c[0] - r // 2, c[1] + r)],
        4: [(c[0] - r, c[1]), (c[0] + r // 2, c[1] - r), (c[0] + r // 2, c[1] + r)],
    }
    if action == 0:
        pygame.draw.circle(surface, colour, c, max(1, r // 2))
    elif action in points:
        pygame.draw.polygon(surface, colour, points[action])
    else:
        pygame.draw.line(surface, colour, (c[0] - r, c[1] - r), (c[0] + r, c[1] + r), 2)
        pygame.draw.line(surface, colour, (c[0] - r, c[1] + r), (c[0] + r, c[1] - r), 2)


def _card(surface, rect: pygame.Rect) -> None:
    card = pygame.Surface(rect.size, pygame.SRCALPHA)
    pygame.draw.rect(card, CARD, card.get_rect(), 0, 5)
    surface.blit(card, rect)
    pygame.draw.rect(surface, EDGE, rect, 1, 5)


def _badge(surface, text: str, at: tuple[int, int], colour) -> None:
    image = font(SMALL, bold=True).render(text, True, colour)
    box = image.get_rect(topleft=at).inflate(12, 6)
    box.topleft = at
    _card(surface, box)
    surface.blit(image, image.get_rect(center=box.center))


PLAY_HINT = "R  play again     N  next episode     Esc  quit"
REPLAY_HINT = "R  from the start     Esc  quit"


def _banner(surface, board: pygame.Rect, area: pygame.Rect, text: str, colour, hint: str) -> None:
    """The episode's outcome in a band below the board (above it, or over its bottom edge, when
    there is no room), as wide as the board's side of the window, so nothing is clipped."""
    big = font(BODY + 2, bold=True)
    width = area.w - 2 * 8
    lines = _wrap(text, max(12, width // 11))
    images = [big.render(line, True, colour) for line in lines]
    if hint:
        images.append(font(SMALL).render(hint, True, DIM))
    height = sum(i.get_height() + 4 for i in images) + 16
    if area.bottom - board.bottom >= height + 4:
        top = board.bottom + 4
    elif board.top - area.top >= height + 4:
        top = board.top - height - 4
    else:
        top = area.bottom - height - 4
    band = pygame.Rect(area.x + 8, top, width, height)
    _card(surface, band)
    y = band.y + 8
    for image in images:
        surface.blit(image, image.get_rect(midtop=(band.centerx, y)))
        y += image.get_height() + 4


# -- the panel --------------------------------------------------------------------------------
_HEIGHTS = {"title": 40, "text": 24, "small": 20, "header": 26, "agent": 42, "teams": 26, "keys": 21}
_HEIGHTS["glyphs"] = 22


def _row_height(row) -> int:
    kind = row[0]
    if kind == "gap":
        return row[1]
    if kind == "outcome":
        return 24 * len(_wrap(row[1], 28)) + 10
    return _HEIGHTS[kind]


def panel_height(match, view: View) -> int:
    """The panel's height with room for an outcome of up to three lines, so every frame of an
    episode has the same size (a video's frames must)."""
    rows = hud_rows(match, view)
    drop = {k for k, r in enumerate(rows) if r[0] == "outcome" or r[1:2] == ("Episode over",)}
    drop |= {k - 1 for k, r in enumerate(rows) if r[0] == "outcome" and rows[k - 1][0] == "gap"}
    height = sum(_row_height(r) for k, r in enumerate(rows) if k not in drop)
    return height + 2 * MARGIN + 24 + 6 + 3 * 24 + 10


def draw_panel(surface, rect: pygame.Rect, rows) -> None:
    pygame.draw.rect(surface, PANEL, rect)
    pygame.draw.line(surface, EDGE, rect.topleft, rect.bottomleft, 2)
    x, y, right = rect.x + 16, rect.y + MARGIN, rect.right - 14
    for row in rows:
        kind = row[0]
        if kind == "title":
            surface.blit(font(TITLE, bold=True).render(row[1], True, GOLD), (x, y + 4))
        elif kind in ("text", "small"):
            size = BODY if kind == "text" else SMALL
            surface.blit(font(size).render(row[1], True, row[2]), (x, y + 2))
        elif kind == "header":
            pygame.draw.line(surface, EDGE, (x, y + 3), (right, y + 3))
            surface.blit(font(TINY, bold=True).render(row[1], True, DIM), (x, y + 8))
            if row[2]:
                image = font(TINY, bold=True).render(row[2], True, DIM)
                surface.blit(image, image.get_rect(topright=(right, y + 8)))
        elif kind == "agent":
            _agent_row(surface, row, x, y, right)
        elif kind == "teams":
            cx = x
            for name, value in row[1]:
                image = font(BODY).render(f"{name} {value:+.2f}", True, TEXT)
                surface.blit(image, (cx, y + 3))
                cx += image.get_width() + 22
        elif kind == "outcome":
            lines = _wrap(row[1], 28)
            box = pygame.Rect(x - 6, y, right - x + 12, 24 * len(lines) + 6)
            pygame.draw.rect(surface, (30, 34, 48), box, 0, 6)
            pygame.draw.rect(surface, row[2], box, 2, 6)
            for k, line in enumerate(lines):
                surface.blit(font(BODY, bold=True).render(line, True, row[2]), (x, y + 5 + 24 * k))
        elif kind == "glyphs":
            _glyph_row(surface, row[1], x, y, right)
        elif kind == "keys":
            half = (right - x) // 2
            for k, (keys, does) in enumerate(row[1]):
                kx = x + k * half
                image = font(SMALL, bold=True).render(keys, True, GOLD)
                surface.blit(image, (kx, y + 2))
                surface.blit(
                    font(SMALL).render(does, True, TEXT), (kx + max(image.get_width() + 8, 52), y + 2)
                )
        y += _row_height(row)


def _glyph_row(surface, entries, x: int, y: int, right: int) -> None:
    """The glyphs of the thought bars, each followed by what it stands for."""
    face = font(SMALL)
    for actions, label in entries:
        for a in actions:
            _glyph(surface, a, pygame.Rect(x, y + 4, 11, 11), TEXT)
            x += 14
        text = _fit(label, max(24, right - x - 4), face)
        surface.blit(face.render(text, True, DIM), (x + 2, y + 2))
        x += face.size(text)[0] + 16


def _agent_row(surface, row, x: int, y: int, right: int) -> None:
    _, i, name, label, status, ret, shape = row
    cx, cy = x + 8, y + 13
    if shape == "round":
        pygame.draw.circle(surface, agent_colour(i), (cx, cy), 8)
    else:
        pygame.draw.polygon(
            surface, agent_colour(i), [(cx, cy - 9), (cx + 9, cy), (cx, cy + 9), (cx - 9, cy)]
        )
    dim = bool(status)
    surface.blit(font(BODY, bold=True).render(name, True, DIM if dim else TEXT), (x + 22, y + 3))
    value = font(BODY, bold=True).render(f"{ret:+.2f}", True, GOOD if ret > 0 else BAD if ret < 0 else TEXT)
    surface.blit(value, value.get_rect(topright=(right, y + 3)))
    detail = label + (f"  ·  {status}" if status else "")
    surface.blit(font(SMALL).render(_fit(detail, right - x - 22, font(SMALL)), True, DIM), (x + 22, y + 22))


def _fit(text: str, width: int, face) -> str:
    """`text`, or its middle elided ("check...ensors · caught"), to fit `width` pixels."""
    if face.size(text)[0] <= width:
        return text
    keep = len(text)
    while keep > 4 and face.size(text[: keep // 2] + "…" + text[len(text) - keep // 2 :])[0] > width:
        keep -= 1
    return text[: keep // 2] + "…" + text[len(text) - keep // 2 :]
