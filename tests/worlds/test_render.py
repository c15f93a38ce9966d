"""The rgb renderer, its tiles and the human window: agents drawn in their colours and team
shapes, terrain from the tile stack, state left untouched."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

import worlds
from worlds import font
from worlds.cells import (
    APPLE,
    BASE,
    CLASSIC_CELLS,
    COLOURS,
    DOOR,
    FLOOR,
    FOOD,
    GOAL,
    KEY,
    LANDMARK,
    NAME_OF,
    NUM_CELLS,
    OPEN_DOOR,
    VOID,
    WALL,
)
from worlds.observe import ascii_map
from worlds.render import _TERRAIN_TILES, COLOUR_RGB, PALETTE, TEAM_RGB, TEAM_SHAPES, render_rgb, tileset
from worlds.scenario import SPRITES, Sprite
from worlds.scenarios.maze_v0 import Maze
from worlds.scenarios.tag_v0 import TAG
from worlds.sprites import sprite_art
from worlds.state import State

TILE = 32
CASES = [
    ("maze_v0", {}),
    ("maze_v0", {"num_agents": 4}),
    ("plates_v0", {}),
    ("tag_v0", {}),
    ("forage_v0", {}),
    ("flags_v0", {}),
    ("harvest_v0", {}),
    ("keys_v0", {}),
    ("keys_v0", {"num_agents": 2, "handover": True}),
    ("signal_v0", {"num_agents": 3}),
]
SEEDS = (0, 1, 2)


def make(name: str, render_mode: str = "rgb_array", seed: int = 0, **config):
    env = worlds.make_parallel(name, render_mode=render_mode, **config)
    env.reset(seed=seed)
    return env


def patch(frame: np.ndarray, row: int, col: int, tile: int = TILE) -> np.ndarray:
    return frame[row * tile : (row + 1) * tile, col * tile : (col + 1) * tile]


def centre(frame: np.ndarray, row: int, col: int, tile: int = TILE) -> np.ndarray:
    return frame[row * tile + tile // 2, col * tile + tile // 2].astype(int)


def near(pixels: np.ndarray, colour: np.ndarray, tol: int = 4) -> np.ndarray:
    return (np.abs(pixels.astype(int) - colour.astype(int)) <= tol).all(-1)


def agent_cells(state) -> dict[tuple[int, int], int]:
    return {tuple(int(v) for v in state.pos[0, i]): int(i) for i in np.flatnonzero(state.alive[0])}


def test_all_scenarios_are_covered() -> None:
    assert {name for name, _ in CASES} == set(worlds.SCENARIOS)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("name", "config"), CASES)
def test_frame_shows_each_agent_in_its_colour(name: str, config: dict, seed: int) -> None:
    env = make(name, seed=seed, **config)
    frame = env.render()
    H, W = env.world.shape
    assert frame.shape == (H * TILE, W * TILE, 3) and frame.dtype == np.uint8
    occupied = agent_cells(env.world)
    colours = PALETTE[list(occupied.values())]
    for row in range(H):
        for col in range(W):
            pixel = centre(frame, row, col)
            if (row, col) in occupied:
                assert near(pixel, PALETTE[occupied[row, col]]), (row, col, pixel)
            else:
                assert not near(pixel, colours).any(), (row, col, pixel)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("name", "config"), CASES)
def test_empty_cells_show_their_terrain_tile(name: str, config: dict, seed: int) -> None:
    env = make(name, seed=seed, **config)
    frame = env.render()
    cells = env.world.cells()[0]
    art = tileset(TILE)
    occupied = agent_cells(env.world)
    marked = {(s.row, s.col) for s in env.scenario.sprites(env.world, 0)}  # badges, flags
    checked = 0
    for (row, col), code in np.ndenumerate(cells):
        if (row, col) not in occupied and (row, col) not in marked and code != GOAL:
            assert np.array_equal(patch(frame, row, col), art.terrain[code]), (row, col, code)
            checked += 1
    assert checked > cells.size // 2
    wall, floor = art.terrain[WALL].astype(int), art.terrain[FLOOR].astype(int)
    assert np.abs(wall - floor).mean() > 20


def test_teams_have_distinct_shapes() -> None:
    env = make("tag_v0", seed=0)
    frame = env.render()
    floor = tileset(TILE).terrain[FLOOR]
    cells = env.world.cells()[0]
    covered = {}
    for (row, col), i in agent_cells(env.world).items():
        assert cells[row, col] == FLOOR
        drawn = (patch(frame, row, col) != floor).any(-1)
        shape = TEAM_SHAPES[env.scenario.teams[i]]
        body = tileset(TILE).bodies[shape][..., 1] > 0
        assert (drawn == body).mean() > 0.98, i
        covered[shape] = body
    assert set(covered) == {"round", "diamond"}
    assert (covered["round"] != covered["diamond"]).mean() > 0.05


def test_own_goals_take_their_agents_colour_and_a_shared_goal_stays_gold() -> None:
    env = make("maze_v0", seed=3, num_agents=3)
    frame = env.render()
    for i in range(3):
        row, col = env.world.goal[0, i]
        ring = patch(frame, row, col)
        assert near(ring, PALETTE[i]).sum() > 20, i
        for j in set(range(3)) - {i}:
            assert near(ring, PALETTE[j]).sum() == 0, (i, j)
    env = make("plates_v0", seed=3)
    frame = env.render()
    row, col = env.world.goal[0, 0]
    assert np.array_equal(patch(frame, row, col), tileset(TILE).terrain[GOAL])


def test_a_caught_runner_is_no_longer_drawn(tmp_path) -> None:
    tag_map = tmp_path / "tag.txt"
    tag_map.write_text("#######\n#02...#\n#.....#\n#1...3#\n#######\n")
    env = make("tag_v0", map=str(tag_map))
    runner = env.scenario.num_hunters  # runner_0, next to hunter_0
    colour = PALETTE[runner]
    assert near(env.render(), colour).sum() > 50
    actions = dict.fromkeys(env.agents, 0) | {"hunter_0": TAG}
    _, _, term, _, _ = env.step(actions)
    assert term["runner_0"] and "runner_0" not in env.agents
    assert near(env.render(), colour).sum() == 0
    assert near(env.render(), PALETTE[runner + 1]).sum() > 50  # the other runner is still there


@pytest.mark.parametrize(("name", "config"), CASES)
def test_render_does_not_change_state(name: str, config: dict) -> None:
    env = make(name, seed=1, **config)
    before = {key: np.array(value, copy=True) for key, value in env.world.to_dict().items()}
    render_rgb(env.scenario, env.world, tile=24)
    env.render()
    after = env.world.to_dict()
    assert before.keys() == after.keys()
    for key in before:
        assert np.array_equal(before[key], after[key]), key


@pytest.mark.parametrize("tile", [16, 20, 48])
def test_other_tile_sizes(tile: int) -> None:
    env = make("plates_v0", seed=0)
    frame = render_rgb(env.scenario, env.world, tile=tile)
    H, W = env.world.shape
    assert frame.shape == (H * tile, W * tile, 3) and frame.dtype == np.uint8
    for (row, col), i in agent_cells(env.world).items():
        assert near(centre(frame, row, col, tile), PALETTE[i])


@pytest.mark.parametrize("name", sorted(worlds.SCENARIOS))
def test_human_mode_runs_under_the_dummy_driver(name: str) -> None:
    env = make(name, render_mode="human", seed=0)
    env.metadata = {**env.metadata, "render_fps": 0}  # no frame pacing in tests
    rng = np.random.default_rng(0)
    for _ in range(4):
        if not env.agents:
            break
        env.step({a: int(rng.choice(np.flatnonzero(legal(env, a)))) for a in env.agents})
    assert env.render() is None
    assert env._window is not None and not env._window.closed
    env.close()
    assert env._window is None


def legal(env, agent: str) -> np.ndarray:
    return env._mask[0, env.possible_agents.index(agent)]


def test_window_closes_on_quit() -> None:
    import pygame

    from worlds.window import FrameWindow

    window = FrameWindow("test", fps=None)
    frame = np.zeros((64, 96, 3), np.uint8)
    window.show(frame)
    assert window._screen.get_size()[0] / window._screen.get_size()[1] == pytest.approx(1.5)
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    window.show(frame)
    assert window.closed
    window.show(frame)  # a closed window ignores frames rather than failing
    window.close()


@pytest.mark.parametrize("name", sorted(worlds.SCENARIOS))
def test_ansi_is_the_ascii_map(name: str) -> None:
    env = make(name, render_mode="ansi", seed=0)
    text = env.render()
    assert text == ascii_map(env.scenario, env.world)
    H, W = env.world.shape
    assert len(text.splitlines()) == H and all(len(line) == W for line in text.splitlines())


# -- Worlds II cells and sprites ---------------------------------------------------------------


@dataclass(frozen=True)
class Shown(Maze):
    """maze_v0 showing a fixed list of sprites, on boards built by hand."""

    shown: tuple[Sprite, ...] = ()

    def sprites(self, state, world: int) -> list[Sprite]:
        return list(self.shown)


def board(cells: np.ndarray, agents: list[tuple[int, int]]) -> State:
    """A one-world State of `cells` (codes, no margin) with agents standing at `agents`."""
    pad, n = 1, len(agents)
    return State(
        np.pad(np.asarray(cells, np.uint8), pad, constant_values=VOID)[None],
        np.array(agents, np.int32).reshape(1, n, 2),
        np.ones((1, n), bool),
        np.full((1, n, 2), -1, np.int32),
        np.zeros(1, np.int32),
        pad,
    )


def every_code_board() -> np.ndarray:
    """Every cell code once, on a 4 x 6 board."""
    return np.arange(NUM_CELLS, dtype=np.uint8).reshape(4, 6)


def test_every_cell_code_has_a_tile_of_its_own() -> None:
    assert set(_TERRAIN_TILES) == set(range(NUM_CELLS))
    for tile in (32, 16):
        terrain = tileset(tile).terrain.astype(int)
        assert terrain.shape == (NUM_CELLS, tile, tile, 3)
        for a in range(NUM_CELLS):
            for b in range(a):
                apart = np.abs(terrain[a] - terrain[b]).mean()
                assert apart > 3, (tile, NAME_OF[a], NAME_OF[b], apart)


def test_new_cells_render_their_tiles() -> None:
    cells = every_code_board()
    state = board(cells, [(0, 1)])  # on the floor
    frame = render_rgb(Shown(), state, tile=TILE)
    art = tileset(TILE)
    for (row, col), code in np.ndenumerate(cells):
        if (row, col) != (0, 1):
            assert np.array_equal(patch(frame, row, col), art.terrain[code]), NAME_OF[code]


def test_blockers_look_like_walls_and_colours_keep_their_glyph() -> None:
    """Locked doors show no more floor than a wall does, items and open doors show plenty; keys,
    doors and landmarks wear their colour."""
    art = tileset(TILE).terrain.astype(int)

    def floor_shown(code: int) -> float:
        return (np.abs(art[code] - art[FLOOR]).sum(-1) < 50).mean()

    for code in range(DOOR, DOOR + 4):
        assert floor_shown(code) <= floor_shown(WALL) + 0.02, NAME_OF[code]
    for code in (*range(KEY, KEY + 4), APPLE, OPEN_DOOR, *range(LANDMARK, LANDMARK + 4)):
        assert floor_shown(code) > floor_shown(WALL) + 0.2, NAME_OF[code]
    for k, colour in enumerate(COLOUR_RGB.values()):
        for code in (KEY + k, DOOR + k, LANDMARK + k):
            assert near(art[code], np.array(colour), tol=30).sum() > 20, NAME_OF[code]


def test_item_and_team_colours_stand_apart() -> None:
    items = np.array(list(COLOUR_RGB.values()), float)
    assert list(COLOUR_RGB) == list(COLOURS)
    to_agents = np.linalg.norm(items[:, None] - PALETTE[None].astype(float), axis=-1)
    assert to_agents.min() > 60
    between = np.linalg.norm(items[:, None] - items[None], axis=-1)
    assert between[~np.eye(4, dtype=bool)].min() > 100
    west, east = np.array(TEAM_RGB, float)
    assert np.linalg.norm(west - east) > 150


SPRITE_CASES = [
    ("flag", TEAM_RGB[0], ""),
    ("carried_flag", TEAM_RGB[1], ""),
    ("carried_key", COLOUR_RGB["violet"], ""),
    ("bubble", (255, 255, 255), "red"),
    ("level", (255, 255, 255), "12"),
    ("frozen", (255, 255, 255), ""),
]


def test_every_sprite_kind_is_tested() -> None:
    assert {kind for kind, *_ in SPRITE_CASES} == set(SPRITES)


@pytest.mark.parametrize("tile", [32, 64, 16])
@pytest.mark.parametrize(("kind", "colour", "label"), SPRITE_CASES)
def test_a_sprite_changes_the_pixels_of_its_cell_only(kind: str, colour, label: str, tile: int) -> None:
    cells = np.full((3, 4), FLOOR, np.uint8)
    cells[0, 0], cells[2, 3] = FOOD, BASE
    state = board(cells, [(1, 1), (0, 3)])
    before = render_rgb(Shown(num_agents=2), state, tile=tile)
    for row, col in [(1, 1), (2, 3), (0, 0)]:  # on an agent, on a base, on food
        shown = (Sprite(row, col, kind, colour, label),)
        after = render_rgb(Shown(num_agents=2, shown=shown), state, tile=tile)
        changed = (after != before).any(-1)
        assert changed[row * tile : (row + 1) * tile, col * tile : (col + 1) * tile].sum() > tile // 2, (
            row,
            col,
        )
        changed[row * tile : (row + 1) * tile, col * tile : (col + 1) * tile] = False
        assert not changed.any(), (row, col)


def test_flags_stand_under_agents_and_badges_go_over_them() -> None:
    state = board(np.full((1, 2), FLOOR, np.uint8), [(0, 0)])
    plain = render_rgb(Shown(), state)
    body = tileset(TILE).bodies["round"][..., 1] == 1  # the body covers these pixels fully
    for kind, colour, label in SPRITE_CASES:
        frame = render_rgb(Shown(shown=(Sprite(0, 0, kind, colour, label),)), state)
        on_body = (patch(frame, 0, 0) != patch(plain, 0, 0)).any(-1) & body
        assert (on_body.sum() == 0) == (kind == "flag"), kind
        assert np.array_equal(centre(frame, 0, 0), centre(plain, 0, 0)), kind  # its colour shows


def test_item_keys_carry_their_colours_glyph() -> None:
    keys = [near(sprite_art(TILE, "carried_key", c, "")[0], np.array(c), 1) for c in COLOUR_RGB.values()]
    for a in range(4):
        for b in range(a):
            assert (keys[a] != keys[b]).any(), (a, b)


def test_labels_are_written_in_the_pixel_font() -> None:
    bubbles = {word: sprite_art(TILE, "bubble", (255, 255, 255), word)[0] for word in ("red", "go", "RED")}
    assert np.array_equal(bubbles["red"], bubbles["RED"])  # capitals only
    assert not np.array_equal(bubbles["red"], bubbles["go"])
    assert sprite_art(TILE, "bubble", (255, 255, 255), "abcdefgh")[1].sum() == pytest.approx(
        sprite_art(TILE, "bubble", (255, 255, 255), "abcd")[1].sum()
    )  # four characters at most
    levels = [sprite_art(TILE, "level", (255, 255, 255), str(n))[0] for n in range(10)]
    assert len({level.tobytes() for level in levels}) == 10
    letters = [font.glyph(char).tobytes() for char in font.GLYPHS]
    assert len(set(letters)) == len(letters)
    assert np.array_equal(font.glyph("~"), font.glyph("?"))


def test_an_unknown_sprite_kind_is_an_error() -> None:
    state = board(np.full((1, 2), FLOOR, np.uint8), [(0, 0)])
    with pytest.raises(ValueError, match="sprite kind 'balloon'"):
        render_rgb(Shown(shown=(Sprite(0, 1, "balloon"),)), state)


def test_render_with_sprites_does_not_change_state() -> None:
    state = board(every_code_board(), [(0, 1), (2, 0)])
    shown = tuple(Sprite(0, 1, kind, colour, label) for kind, colour, label in SPRITE_CASES)
    before = {key: np.array(value, copy=True) for key, value in state.to_dict().items()}
    render_rgb(Shown(num_agents=2, shown=shown), state, tile=24)
    for key, value in state.to_dict().items():
        assert np.array_equal(before[key], value), key


def test_the_contact_sheet_shows_every_new_tile_and_sprite(tmp_path) -> None:
    from worlds.tilesheet import SPRITE_ROW, TILE_ROW, save_sheet

    assert set(TILE_ROW) == set(range(CLASSIC_CELLS, NUM_CELLS))
    assert {kind for *_, sprites, _ in SPRITE_ROW for kind, *_ in sprites} == set(SPRITES)
    path = save_sheet(tmp_path / "sheet.png")
    assert Image.open(path).size[0] > 64 * len(TILE_ROW)
