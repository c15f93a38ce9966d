"""Batched layouts: a reset lays out every world that needs a new episode in one `layouts` call;
the first three scenarios' batched layouts are their one-world layouts, bit for bit; a newer
scenario's world depends on its own seed and episode alone; map files draw world by world as
they always did; and the generated layouts of the five newer scenarios keep their promises
(everything reachable that must be) over many seeds."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import worlds
from tests.worlds.test_batch import CONFIG
from worlds import engine
from worlds.cells import APPLE, BASE, FLOOR, FOOD, LANDMARK, PASSABLE, WALL
from worlds.errors import ConfigError
from worlds.scenario import stack_layouts
from worlds.scenarios.harvest_v0 import count_near
from worlds.seeding import Seeds

BATCHED = ["signal_v0", "harvest_v0", "flags_v0", "keys_v0", "forage_v0"]  # counter-based draws
CLASSIC = ["maze_v0", "plates_v0", "tag_v0"]  # each world's own generator, as replays pin it


def region(cells: np.ndarray, start, free: np.ndarray | None = None) -> np.ndarray:
    """The cells reachable from `start` over `free` cells (default: passable ones), bool[H, W]."""
    free = PASSABLE[cells] if free is None else free
    seen = np.zeros(cells.shape, bool)
    seen[tuple(start)] = True
    frontier = [tuple(start)]
    while frontier:
        r, c = frontier.pop()
        for y, x in ((r - 1, c), (r + 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= y < cells.shape[0] and 0 <= x < cells.shape[1] and free[y, x] and not seen[y, x]:
                seen[y, x] = True
                frontier.append((y, x))
    return seen


def next_to(seen: np.ndarray, cell) -> bool:
    """Whether a cell of `seen` touches `cell` (four neighbours)."""
    r, c = cell
    return any(seen[y, x] for y, x in ((r - 1, c), (r + 1, c), (r, c + 1), (r, c - 1)))


def assert_same_worlds(one, other) -> None:
    for key, value in one.to_dict().items():
        np.testing.assert_array_equal(value, other.to_dict()[key], err_msg=key)


# -- one call per reset ------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(worlds.SCENARIOS))
def test_a_reset_lays_out_all_its_worlds_in_one_call(name: str, monkeypatch) -> None:
    scenario_cls = type(worlds.make_scenario(name))
    calls, per_world = [], []
    layouts, layout = scenario_cls.layouts, scenario_cls.layout

    def counted_layouts(self, draws):
        calls.append(len(draws))
        return layouts(self, draws)

    def counted_layout(self, rng):
        per_world.append(1)
        return layout(self, rng)

    monkeypatch.setattr(scenario_cls, "layouts", counted_layouts)
    monkeypatch.setattr(scenario_cls, "layout", counted_layout)
    env = worlds.make_batch(name, 12, seed=3, **CONFIG[name])
    env.reset()
    assert calls == [12]
    rng = np.random.default_rng(0)
    for _ in range(30):  # worlds end at different steps: each step's ended worlds in one call
        before = len(calls)
        done = env.step((env.mask() + rng.random(env.mask().shape)).argmax(-1))[-1]["done"]
        assert calls[before:] == ([done.sum()] if done.any() else [])
    assert sum(calls) > 2 * 12  # every world reset on the way, some more than once
    assert per_world == []  # no world laid out on its own


# (scenario, config): every generator style, crowded rooms, tag's redrawn spawns (6 agents in an
# open 5x5 room rarely stand apart: up to 20 draws), mazes with loops (a second round of draws).
CLASSIC_CONFIGS = [
    ("maze_v0", {}), ("maze_v0", {"num_agents": 4, "loops": 0.3, "size": 11}),
    ("maze_v0", {"style": "rooms", "num_agents": 3}), ("maze_v0", {"style": "open", "size": 5}),
    ("plates_v0", {}), ("plates_v0", {"num_agents": 3, "size": 5}),
    ("tag_v0", {}), ("tag_v0", {"style": "maze"}),
    ("tag_v0", {"size": 5, "style": "open", "num_agents": 6, "num_hunters": 3}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "config"), CLASSIC_CONFIGS, ids=[str(c) for c in CLASSIC_CONFIGS])
def test_the_first_scenarios_batched_layouts_are_their_one_world_layouts(name: str, config: dict) -> None:
    scenario = worlds.make_scenario(name, **config)
    batched, alone = Seeds(200, 0), Seeds(200, 0)
    for _ in range(2):  # a second episode: every world's generator carries on alike
        lay = scenario.layouts(batched.draws())
        one = stack_layouts([scenario.layout(rng) for rng in alone.draws().rngs()])
        for field in ("terrain", "pos", "goal"):
            np.testing.assert_array_equal(getattr(lay, field), getattr(one, field), err_msg=field)


def test_too_few_free_cells_is_the_same_config_error() -> None:
    crowded = worlds.make_scenario("maze_v0", size=5, num_agents=10)
    with pytest.raises(ConfigError, match="layout has 7 free cells, needs 10"):
        crowded.layout(np.random.default_rng(0))
    with pytest.raises(ConfigError, match="layout has 7 free cells, needs 10"):
        engine.reset(crowded, Seeds(3, 0))


# -- seeds -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BATCHED)
def test_a_worlds_layout_depends_on_its_seed_and_episode_alone(name: str) -> None:
    scenario = worlds.make_scenario(name)
    seeds = Seeds(8, 5)
    everyone = engine.reset(scenario, seeds)
    some = engine.reset(scenario, seeds, np.array([2, 6]))  # a second episode in worlds 2 and 6
    alone = Seeds(1, 7)  # world 2 of a batch seeded 5
    assert_same_worlds(everyone.world(2), engine.reset(scenario, alone))
    assert_same_worlds(some.world(0), engine.reset(scenario, alone))
    other = Seeds(1, 11)
    engine.reset(scenario, other)
    assert_same_worlds(some.world(1), engine.reset(scenario, other))
    assert not np.array_equal(everyone.terrain[2], some.terrain[0]) or not np.array_equal(
        everyone.pos[2], some.pos[0]
    )  # a new episode, a new layout


def test_seeds_draw_per_world_streams_and_round_trip_their_state() -> None:
    seeds = Seeds(4, 10)
    u = seeds.draws().uniform(1000)
    assert u.shape == (4, 1000) and ((0 <= u) & (u < 1)).all() and abs(u.mean() - 0.5) < 0.02
    assert abs(np.corrcoef(u[0], u[1])[0, 1]) < 0.1  # worlds draw apart
    words = Seeds(1, 12).draws()
    np.testing.assert_array_equal(words.uniform(1000), u[2:3])  # world 2 of seed 10 is seed 12
    assert not np.array_equal(words.words(4, part=1), words.words(4))  # parts are other streams
    seeds.generators(np.arange(4))[1].random(3)  # a generator made and drawn from
    saved = seeds.state()
    after = seeds.draws().uniform(5), seeds.generators(np.arange(4))[1].random(3)
    restored = Seeds(4, 99)
    restored.set_state(saved)
    np.testing.assert_array_equal(restored.draws().uniform(5), after[0])
    np.testing.assert_array_equal(restored.generators(np.arange(4))[1].random(3), after[1])
    old = Seeds(4, 10)  # run checkpoints of before the keys held bare generator states
    old.set_state([np.random.default_rng(b).bit_generator.state for b in range(4)])
    assert old.generators(np.arange(4))[3].random() == np.random.default_rng(3).random()
    with pytest.raises(ValueError, match="seed"):
        Seeds(2, -1)
    with pytest.raises(ValueError, match="whole number"):
        Seeds(1, 0).set_state([{"key": -1, "episode": 0, "rng": None}])


def test_a_list_of_generators_still_resets_the_engine() -> None:
    """The older form of `engine.reset`: world-by-world scenarios draw from the given
    generators exactly as before; batched ones take a key from each, reproducibly."""
    maze = worlds.make_scenario("maze_v0")
    assert_same_worlds(engine.reset(maze, [np.random.default_rng(4)]), engine.reset(maze, Seeds(1, 4)))
    keys = worlds.make_scenario("keys_v0")
    first = engine.reset(keys, [np.random.default_rng(s) for s in range(3)])
    assert_same_worlds(first, engine.reset(keys, [np.random.default_rng(s) for s in range(3)]))


# crc32 of (terrain, pos, goal and the scenario's arrays) of the second episode after
# `make_parallel(name, map=MAP).reset(seed)`, seeds 0, 1, 2, computed before layouts were
# batched: map files still draw their spawns, levels and targets world by world, as before.
MAP_STARTS = {
    ("signal_v0", "signal_plaza"): [4249960183, 3437424909, 2990091061],
    ("harvest_v0", "harvest_orchard"): [3238897205, 605298939, 609703138],
    ("flags_v0", "flags_arena"): [1679070515] * 3,
    ("keys_v0", "keys_doors"): [663922804] * 3,
    ("forage_v0", "forage_field"): [2448698273, 640906167, 3904366266],
}


@pytest.mark.parametrize(("name", "map_name"), MAP_STARTS)
def test_map_files_draw_the_layouts_they_always_did(name: str, map_name: str) -> None:
    env = worlds.make_parallel(name, map=map_name)
    for seed, expected in zip((0, 1, 2), MAP_STARTS[name, map_name], strict=True):
        env.reset(seed=seed)
        env.reset()
        w, crc = env.world, 0
        for array in (w.terrain, w.pos, w.goal, *(w.extra[key] for key in sorted(w.extra))):
            crc = zlib.crc32(np.ascontiguousarray(array).tobytes(), crc)
        assert crc == expected


# -- what generated layouts promise, over many seeds ---------------------------------------------
WORLDS = 300


def generated(name: str, **config):
    scenario = worlds.make_scenario(name, **config)
    state = engine.reset(scenario, Seeds(WORLDS, 0))
    return scenario, state, state.cells()


@pytest.mark.parametrize(
    "config",
    [{}, {"num_landmarks": 4, "num_agents": 4, "size": 5}, {"num_landmarks": 4, "num_agents": 3, "size": 6},
     {"roles": "split", "num_agents": 4}, {"num_landmarks": 2, "num_agents": 10, "size": 9}],
)  # fmt: skip
def test_signal_landmarks_are_reachable_around_the_others(config: dict) -> None:
    scenario, state, cells = generated("signal_v0", **config)
    L = scenario.num_landmarks
    for b in range(WORLDS):
        marks = np.argwhere(cells[b] >= LANDMARK)
        assert sorted((cells[b][tuple(marks.T)] - LANDMARK).tolist()) == list(range(L))
        assert (marks % 2 == 1).all()  # odd row and column: never side by side
        spots = {tuple(p) for p in state.pos[b].tolist()}
        assert len(spots) == scenario.num_agents and not (cells[b][tuple(state.pos[b].T)] >= LANDMARK).any()
        free = cells[b] == FLOOR  # walk round the landmarks and the speaker, who never moves
        if not scenario.moves[0]:
            free[tuple(state.pos[b, 0])] = False
        for i in np.flatnonzero(scenario.moves):
            seen = region(cells[b], state.pos[b, i], free)
            assert all(next_to(seen, mark) for mark in marks), (b, i)
    np.testing.assert_array_equal(state.extra["clue"], scenario.clues[state.extra["target"]])
    assert set(state.extra["target"].tolist()) == set(range(L))
    assert len(set(state.extra["seed"].tolist())) == WORLDS  # every world its own noise


@pytest.mark.parametrize(
    "config", [{}, {"size": 7, "patches": 1, "num_agents": 3}, {"size": 31, "patches": 9}]
)
def test_harvest_fields_hold_patches_and_their_counts(config: dict) -> None:
    scenario, state, cells = generated("harvest_v0", **config)
    x = state.extra
    for b in range(WORLDS):
        apple = cells[b] == APPLE
        assert 6 <= apple.sum() <= scenario.patches * 13 and x["apples"][b] == apple.sum()
        orchard = x["orchard"][b]
        np.testing.assert_array_equal(orchard[orchard >= 0], np.flatnonzero(apple))
        assert (orchard[apple.sum() :] == -1).all()
        np.testing.assert_array_equal(x["near"][b], count_near(apple))
        assert (cells[b][tuple(state.pos[b].T)] == FLOOR).all()
        assert len({tuple(p) for p in state.pos[b].tolist()}) == scenario.num_agents
        seen = region(cells[b], state.pos[b, 0])
        assert seen[apple].all() and seen[tuple(state.pos[b].T)].all()
    assert len(set(x["seed"].tolist())) == WORLDS


@pytest.mark.parametrize(
    "config", [{}, {"walls": 0.4, "size": 11, "num_agents": 6}, {"size": 5, "walls": 0.3}]
)
def test_flags_fields_are_mirrored_and_every_base_is_reachable(config: dict) -> None:
    scenario, state, cells = generated("flags_v0", **config)
    size = scenario.size
    walled = 0
    for b in range(WORLDS):
        west, east = cells[b][:, :size], cells[b][:, size:][:, ::-1]
        np.testing.assert_array_equal(np.where(west == BASE, BASE + 1, west), east)
        walled += (west[1:-1, 1:] == WALL).sum()
        spawn, base = state.extra["spawn"][b], state.extra["base"][b]
        assert (cells[b][tuple(spawn.T)] == FLOOR).all()
        assert cells[b][tuple(base[0])] == BASE and cells[b][tuple(base[1])] == BASE + 1
        for cell in spawn:
            seen = region(cells[b], cell)
            assert seen[tuple(base[0])] and seen[tuple(base[1])], b
    inner = WORLDS * (size - 2) * (size - 3)  # the cells that may be walled
    assert 0 < walled <= scenario.walls * inner * 1.1


@pytest.mark.parametrize(
    "config",  # the last two crowded: the spread often runs out and falls back to the lattice
    [{}, {"num_agents": 4, "num_food": 4}, {"num_agents": 3, "force_coop": True, "size": 7, "num_food": 4},
     {"size": 9, "num_food": 9, "num_agents": 4}],
)  # fmt: skip
def test_forage_food_stands_apart_and_within_reach(config: dict) -> None:
    scenario, state, cells = generated("forage_v0", **config)
    x = state.extra
    for b in range(WORLDS):
        food = np.argwhere(cells[b] == FOOD)
        levels = x["food_level"][b]
        assert len(food) == scenario.num_food and ((levels > 0) == (cells[b] == FOOD)).all()
        for k in range(len(food)):  # apart, off the wall ring: four floor cells round every item
            assert all(np.abs(food[k] - food[j]).max() > 1 for j in range(k))
            assert all(cells[b][y, x] == FLOOR for y, x in food[k] + [(-1, 0), (1, 0), (0, 1), (0, -1)])
        team = x["agent_level"][b].astype(int)
        assert ((1 <= team) & (team <= scenario.max_level)).all()
        wanted = levels[levels > 0]
        assert ((wanted == team.sum()) if scenario.force_coop else (wanted <= team.sum())).all()
        assert x["food_total"][b] == wanted.sum() and x["food_left"][b] == len(food)
        assert len({tuple(p) for p in state.pos[b].tolist()}) == scenario.num_agents
        for i in range(scenario.num_agents):
            seen = region(cells[b], state.pos[b, i])
            assert all(next_to(seen, item) for item in food)
