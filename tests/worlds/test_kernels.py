"""The compiled kernels (worlds.kernels) against plain numpy statements of the rules, on random
crowded batches: many worlds, agents out of the game, goals in view, out of view and none.
Moves and tags have their own pairwise references in test_rules_fuzz.py."""

from __future__ import annotations

import numpy as np
import pytest

import worlds
from worlds import engine
from worlds.cells import FLOOR, GATE, GOAL, OPEN_GATE, PASSABLE, PLATE, VOID, WALL
from worlds.observe import RIVAL, SELF, TEAMMATE, views
from worlds.state import State


def crowded(rng: np.random.Generator, scenario, worlds_: int, size: int) -> State:
    """Rooms of mixed cells with agents on distinct passable cells; some agents out of the game;
    goals anywhere on the map, or none (-1, -1)."""
    n, pad = scenario.num_agents, scenario.pad
    inner = rng.choice([FLOOR, FLOOR, FLOOR, WALL, GOAL, PLATE, GATE, OPEN_GATE], (worlds_, size, size))
    inner = inner.astype(np.uint8)
    terrain = np.full((worlds_, size + 2 * pad, size + 2 * pad), VOID, dtype=np.uint8)
    terrain[:, pad:-pad, pad:-pad] = inner
    pos = np.zeros((worlds_, n, 2), dtype=np.int32)
    for w in range(worlds_):
        free = np.argwhere(PASSABLE[inner[w]])
        if len(free) < n:
            inner[w, :, :] = FLOOR
            terrain[w, pad:-pad, pad:-pad] = FLOOR
            free = np.argwhere(inner[w] == FLOOR)
        pos[w] = free[rng.choice(len(free), n, replace=False)]
    goal = rng.integers(0, size, (worlds_, n, 2)).astype(np.int32)
    goal[rng.random((worlds_, n)) < 0.2] = -1
    alive = rng.random((worlds_, n)) < 0.8
    return State(terrain, pos, alive, goal, rng.integers(0, 5, worlds_).astype(np.int32), pad)


def expected_view(scenario, state: State, b: int, i: int) -> np.ndarray:
    """Agent i's view in world b, cell by cell (the rules in worlds.observe's docstring)."""
    v, p = scenario.view_size, state.pad
    r = v // 2
    row, col = state.pos[b, i] + p
    out = np.zeros((v, v, 3), np.uint8)
    out[..., 0] = state.terrain[b, row - r : row + r + 1, col - r : col + r + 1]
    for j in np.flatnonzero(state.alive[b]):
        dy, dx = state.pos[b, j] - state.pos[b, i]
        if abs(dy) <= r and abs(dx) <= r:
            same = scenario.teams[j] == scenario.teams[i]
            out[dy + r, dx + r, 1] = SELF if j == i else TEAMMATE if same else RIVAL
    goal = state.goal[b, i]
    if state.alive[b, i] and goal[0] >= 0:
        dy, dx = goal - state.pos[b, i]
        inside = abs(dy) <= r and abs(dx) <= r
        out[int(np.clip(dy, -r, r)) + r, int(np.clip(dx, -r, r)) + r, 2] = 1 if inside else 2
    return out


@pytest.mark.parametrize(
    ("name", "config"),
    [("maze_v0", {"num_agents": 6, "view_size": 5}), ("tag_v0", {"num_agents": 7, "num_hunters": 3})],
)
def test_views_match_cell_by_cell(name: str, config: dict) -> None:
    rng = np.random.default_rng(7)
    scenario = worlds.make_scenario(name, **config)
    state = crowded(rng, scenario, 200, 6)
    seen = views(scenario, state)
    assert seen.shape == (200, scenario.num_agents, scenario.view_size, scenario.view_size, 3)
    for b in range(state.num_worlds):
        for i in range(state.num_agents):
            np.testing.assert_array_equal(seen[b, i], expected_view(scenario, state, b, i), f"{b}, {i}")
    assert (seen[..., 2] == 2).any() and (seen[..., 2] == 1).any(), "goals in and out of view"


def test_a_batch_without_goals_has_no_marks() -> None:
    scenario = worlds.make_scenario("maze_v0", num_agents=4)
    state = crowded(np.random.default_rng(1), scenario, 50, 7)
    state.goal[:] = -1
    assert not views(scenario, state)[..., 2].any()


@pytest.mark.parametrize("name", ["maze_v0", "tag_v0"])
def test_action_masks_match_the_terrain(name: str) -> None:
    rng = np.random.default_rng(3)
    scenario = worlds.make_scenario(name, num_agents=5)
    state = crowded(rng, scenario, 300, 5)
    p = state.pad
    b, i = np.indices(state.alive.shape)
    want = np.zeros((*state.alive.shape, len(scenario.actions)), bool)
    want[..., 0] = True
    for move, (dy, dx) in enumerate([(-1, 0), (1, 0), (0, 1), (0, -1)], start=1):
        cell = state.terrain[b, state.pos[..., 0] + p + dy, state.pos[..., 1] + p + dx]
        want[..., move] = PASSABLE[cell] & state.alive
    if scenario.interactions:
        want[..., 5] = state.alive & (scenario.teams == 0)
    mask = engine.action_mask(scenario, state)
    assert mask.dtype == np.int8
    np.testing.assert_array_equal(mask, want)


@pytest.mark.parametrize(
    ("name", "config"), [("maze_v0", {"num_agents": 4}), ("tag_v0", {}), ("plates_v0", {})]
)
def test_a_world_in_a_batch_steps_as_it_does_alone(name: str, config: dict) -> None:
    """The kernels loop over worlds: nothing leaks from one world into the next."""
    env = worlds.make_batch(name, 24, seed=11, max_cycles=30, **config)
    obs = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(40):
        actions = (obs["action_mask"] + rng.random(obs["action_mask"].shape)).argmax(-1)
        alone = [env.world.world(b) for b in range(env.num_worlds)]
        results = [engine.step(env.scenario, state, actions[b : b + 1]) for b, state in enumerate(alone)]
        obs, rewards, terminated, truncated, infos = env.step(actions)
        for b, (rew, term, trunc, events) in enumerate(results):
            np.testing.assert_array_equal(rew[0], rewards[b])
            np.testing.assert_array_equal(term[0], terminated[b])
            np.testing.assert_array_equal(trunc[0], truncated[b])
            for key, value in events.items():
                np.testing.assert_array_equal(value[0], infos["events"][key][b], key)
            if not infos["done"][b]:
                np.testing.assert_array_equal(alone[b].terrain[0], env.world.terrain[b])
                np.testing.assert_array_equal(alone[b].pos[0], env.world.pos[b])
                np.testing.assert_array_equal(alone[b].alive[0], env.world.alive[b])
                np.testing.assert_array_equal(alone[b].t[0], env.world.t[b])


def test_step_bookkeeping() -> None:
    """Rewards only to agents that acted, float32; truncation at max_cycles for those still in
    the game, never together with termination; whoever ended leaves the game."""
    scenario = worlds.make_scenario("maze_v0", num_agents=3, max_cycles=5)
    state = engine.reset(scenario, [np.random.default_rng(s) for s in range(8)])
    state.alive[:, 2] = False
    state.t[:4] = 4  # these worlds reach max_cycles on this step
    state.pos[0, 0] = state.goal[0, 0]  # agent 0 of world 0 stands on its goal
    state.pos[0, 2] = state.goal[0, 2]  # ... and so does agent 2, out of the game
    rewards, terminated, truncated, _ = engine.step(scenario, state, np.zeros((8, 3), np.int64))
    assert rewards.dtype == np.float32
    assert terminated[0].tolist() == [True, False, False]
    assert rewards[0, 0] == np.float32(1.0 - 0.9 * 5 / 5) and (rewards[0, 1:] == 0).all()
    assert truncated[:4, :2].sum() == 7 and not truncated[0, 0]  # world 0's agent 0 terminated
    assert not truncated[4:].any() and not truncated[:, 2].any()
    assert state.t.tolist() == [5] * 4 + [1] * 4
    assert not state.alive[:4].any() and state.alive[4:, :2].all()
