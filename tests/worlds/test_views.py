"""What agents see agrees with the state: views, text views, the global state, action masks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces

import worlds
from worlds import engine
from worlds.cells import CHAR_OF, CHAR_TABLE, FLOOR, PASSABLE, VOID
from worlds.observe import NOBODY, RIVAL, SELF, TEAMMATE, ascii_map
from worlds.state import State

NAMES = sorted(worlds.SCENARIOS)
VIEW_SIZES = (5, 7, 9)
STEPS = 8


def expected_view(scenario, state: State, i: int) -> np.ndarray:
    """Agent i's view (the three shared channels), worked out cell by cell from the state; agents
    off the board (`scenario.present`) are not seen."""
    v = scenario.view_size
    r = v // 2
    row, col = state.pos[0, i]
    out = np.zeros((v, v, 3), np.uint8)
    out[..., 0] = np.pad(state.cells()[0], r, constant_values=VOID)[row : row + v, col : col + v]
    for j in np.flatnonzero(scenario.present(state)[0]):
        dy, dx = state.pos[0, j] - state.pos[0, i]
        if abs(dy) <= r and abs(dx) <= r:
            same_team = scenario.teams[j] == scenario.teams[i]
            out[dy + r, dx + r, 1] = SELF if j == i else TEAMMATE if same_team else RIVAL
    goal = state.goal[0, i]
    if goal[0] >= 0:
        dy, dx = goal - state.pos[0, i]
        inside = abs(dy) <= r and abs(dx) <= r
        out[int(np.clip(dy, -r, r)) + r, int(np.clip(dx, -r, r)) + r, 2] = 1 if inside else 2
    return out


def expected_mask(scenario, state: State, i: int) -> list[int]:
    """noop, then north, south, east, west where the terrain lets an agent on the board stand
    (unless the scenario holds it still: signal_v0's speaker), then the interactions (tag:
    hunters only; others as the scenario masks them)."""
    cells = np.pad(state.cells()[0], 1, constant_values=VOID)
    row, col = state.pos[0, i] + 1
    around = [cells[row - 1, col], cells[row + 1, col], cells[row, col + 1], cells[row, col - 1]]
    movers = scenario.can_move(state)
    free = bool(scenario.present(state)[0, i]) and (movers is None or bool(movers[0, i]))
    mask = [1] + [int(PASSABLE[cell] and free) for cell in around]
    if scenario.name == "tag_v0":
        mask.append(int(scenario.teams[i] == 0))  # tag: hunters only
    elif scenario.interactions:  # the scenario's own tests check its interactions' masks
        mask += scenario.interaction_mask(state)[0, i].astype(int).tolist()
    return mask


def episodes(name: str, view_size: int = 7, obs_type: str = "dict", seeds=(0, 1)):
    """(env, observations) after each of a few random steps from a few seeds."""
    for seed in seeds:
        env = worlds.make_parallel(name, view_size=view_size, obs_type=obs_type)
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        yield env, obs
        for _ in range(STEPS):
            if not env.agents:
                break
            actions = {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}
            obs, *_ = env.step(actions)
            yield env, obs


@pytest.mark.parametrize("view_size", VIEW_SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_views_match_the_state(name: str, view_size: int) -> None:
    for env, obs in episodes(name, view_size):
        for agent in env.agents:
            i = env.possible_agents.index(agent)
            view = obs[agent]["view"]
            assert view.shape == (view_size, view_size, len(env.scenario.view_codes))
            shared = view[..., :3]  # the scenario's own channels are checked in its own tests
            np.testing.assert_array_equal(shared, expected_view(env.scenario, env.world, i), err_msg=agent)
            marks = np.argwhere(view[..., 2] > 0)
            if env.world.goal[0, i, 0] < 0:
                assert len(marks) == 0
            else:
                assert len(marks) == 1
                if view[(*marks[0], 2)] == 2:  # the compass lies on the view's edge
                    assert np.abs(marks[0] - view_size // 2).max() == view_size // 2


@pytest.mark.parametrize("name", NAMES)
def test_action_mask_matches_the_terrain(name: str) -> None:
    for env, obs in episodes(name):
        for agent in env.agents:
            i = env.possible_agents.index(agent)
            expected = expected_mask(env.scenario, env.world, i)
            assert obs[agent]["action_mask"][: len(expected)].tolist() == expected, agent


def text_rows(text: str, view_size: int) -> list[str]:
    lines = text.split("\n")
    start = next(n for n, line in enumerate(lines) if line.startswith("You see")) + 1
    return lines[start : start + view_size]


@pytest.mark.parametrize("view_size", (5, 9))
@pytest.mark.parametrize("name", NAMES)
def test_text_view_draws_the_view(name: str, view_size: int) -> None:
    r = view_size // 2
    for env, obs in episodes(name, view_size, obs_type="text"):
        world = env.world
        for agent in env.agents:
            i = env.possible_agents.index(agent)
            chars = CHAR_TABLE[expected_view(env.scenario, world, i)[..., 0]]
            for j in np.flatnonzero(env.scenario.present(world)[0]):
                dy, dx = world.pos[0, j] - world.pos[0, i]
                if abs(dy) <= r and abs(dx) <= r:
                    chars[dy + r, dx + r] = "@" if j == i else str(j)
            text = obs[agent]["text"]
            assert text_rows(text, view_size) == ["".join(row) for row in chars], agent
            assert text.startswith(f"You are {agent} ")
            legal = [env.scenario.actions[k] for k in np.flatnonzero(obs[agent]["action_mask"])]
            assert f"Legal actions: {', '.join(legal)}." in text


def test_view_by_hand(tmp_path: Path) -> None:
    """A 3x3 view at the map's corner: VOID outside, and the goal's compass then the goal."""
    path = tmp_path / "row.txt"
    path.write_text("0...G\n", encoding="utf-8")
    env = worlds.make_parallel("maze_v0", map=str(path), view_size=3, obs_type="view")
    view, _ = env.reset(seed=0)
    np.testing.assert_array_equal(view["agent_0"][..., 0], [[VOID] * 3, [VOID, FLOOR, FLOOR], [VOID] * 3])
    np.testing.assert_array_equal(view["agent_0"][..., 1], [[0, 0, 0], [0, SELF, 0], [0, 0, 0]])
    np.testing.assert_array_equal(view["agent_0"][..., 2], [[0, 0, 0], [0, 0, 2], [0, 0, 0]])
    for _ in range(3):
        view, *_ = env.step({"agent_0": 3})  # east, until the goal is next to it
    np.testing.assert_array_equal(view["agent_0"][..., 2], [[0, 0, 0], [0, 0, 1], [0, 0, 0]])


def test_teammates_and_rivals(tmp_path: Path) -> None:
    path = tmp_path / "line.txt"
    path.write_text("#0123#\n", encoding="utf-8")  # hunters 0, 1; runners 2, 3
    env = worlds.make_parallel("tag_v0", map=str(path), view_size=3, obs_type="view")
    view, _ = env.reset(seed=0)
    assert view["hunter_0"][1, :, 1].tolist() == [NOBODY, SELF, TEAMMATE]
    assert view["hunter_1"][1, :, 1].tolist() == [TEAMMATE, SELF, RIVAL]
    assert view["runner_0"][1, :, 1].tolist() == [RIVAL, SELF, TEAMMATE]
    assert view["runner_1"][1, :, 1].tolist() == [TEAMMATE, SELF, NOBODY]


@pytest.mark.parametrize("name", NAMES)
def test_state_is_the_global_map(name: str) -> None:
    for env, _ in episodes(name, seeds=(0,)):
        env.render_mode = "ansi"
        state = env.state()
        assert env.state_space.contains(state)
        chars = [list(row) for row in env.render().split("\n")]
        assert state.shape[:2] == (len(chars), len(chars[0]))
        for (row, col), char in np.ndenumerate(np.array(chars)):
            cell, who, team = state[row, col]
            if who:
                assert char == str(who - 1) and team == env.scenario.teams[who - 1] + 1
            else:
                assert char == CHAR_OF.get(cell, " ") and team == 0


@pytest.mark.parametrize("view_size", VIEW_SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_view_obs_type_is_a_plain_box(name: str, view_size: int) -> None:
    env = worlds.make_parallel(name, view_size=view_size, obs_type="view")
    obs, _ = env.reset(seed=4)
    dict_obs, _ = worlds.make_parallel(name, view_size=view_size).reset(seed=4)
    for agent in env.possible_agents:
        space = env.observation_space(agent)
        channels = len(env.scenario.view_codes)
        assert isinstance(space, spaces.Box) and space.shape == (view_size, view_size, channels)
        assert isinstance(obs[agent], np.ndarray) and space.contains(obs[agent])
        np.testing.assert_array_equal(obs[agent], dict_obs[agent]["view"])


def stepped(name: str) -> worlds.GridParallelEnv:
    env = worlds.make_parallel(name)
    env.reset(seed=2)
    env.step({a: 0 for a in env.agents})
    return env


def assert_same_state(one: State, other: State) -> None:
    for key, value in one.to_dict().items():
        got = other.to_dict()[key]
        np.testing.assert_array_equal(got, value, err_msg=key)
        assert np.asarray(got).dtype == np.asarray(value).dtype, key


@pytest.mark.parametrize("name", NAMES)
def test_state_round_trips_through_npz(name: str) -> None:
    env = stepped(name)
    buffer = io.BytesIO()
    np.savez(buffer, **env.world.to_dict())
    buffer.seek(0)
    with np.load(buffer) as data:
        copy = State.from_dict(dict(data))
    assert_same_state(env.world, copy)
    actions = np.zeros((1, env.scenario.num_agents), np.int64)
    results = [engine.step(env.scenario, state, actions)[:3] for state in (env.world, copy)]
    np.testing.assert_equal(results[0], results[1])
    assert_same_state(env.world, copy)


@pytest.mark.parametrize("name", NAMES)
def test_to_dict_is_a_snapshot(name: str) -> None:
    """A replay keeps `to_dict()` of each step; the state stepping on must not rewrite them."""
    env = stepped(name)
    snapshot = env.world.to_dict()
    kept = {key: np.array(value, copy=True) for key, value in snapshot.items()}
    env.step({a: 0 for a in env.agents})
    for key in kept:
        np.testing.assert_array_equal(snapshot[key], kept[key], err_msg=key)


@pytest.mark.parametrize("name", NAMES)
def test_from_dict_does_not_write_back(name: str) -> None:
    """Stepping a state rebuilt from a stored snapshot leaves the snapshot as it was."""
    env = stepped(name)
    snapshot = {key: np.array(value, copy=True) for key, value in env.world.to_dict().items()}
    kept = {key: value.copy() for key, value in snapshot.items()}
    state = State.from_dict(snapshot)
    engine.step(env.scenario, state, np.zeros((1, env.scenario.num_agents), np.int64))
    for key in kept:
        np.testing.assert_array_equal(snapshot[key], kept[key], err_msg=key)


def test_ascii_map_draws_live_agents_only(tmp_path: Path) -> None:
    path = tmp_path / "map.txt"
    path.write_text("#G01G#\n", encoding="utf-8")
    env = worlds.make_parallel("maze_v0", map=str(path), num_agents=2)
    env.reset(seed=0)
    assert ascii_map(env.scenario, env.world) == "#G01G#"
    env.step({"agent_0": 0, "agent_1": 3})  # agent 1 reaches its goal and leaves
    assert ascii_map(env.scenario, env.world) == "#G0.G#"
