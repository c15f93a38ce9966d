"""The rgb renderer, its tiles and the human window: agents drawn in their colours and team
shapes, terrain from the tile stack, state left untouched."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np
import pytest

import worlds
from worlds.cells import FLOOR, GOAL, WALL
from worlds.observe import ascii_map
from worlds.render import PALETTE, TEAM_SHAPES, render_rgb, tileset
from worlds.scenarios.tag_v0 import TAG

TILE = 32
CASES = [
    ("maze_v0", {}),
    ("maze_v0", {"num_agents": 4}),
    ("plates_v0", {}),
    ("tag_v0", {}),
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
    checked = 0
    for (row, col), code in np.ndenumerate(cells):
        if (row, col) not in occupied and code != GOAL:
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
