"""forage_v0's rules, table-driven from small ASCII maps: a map before, agent and food levels,
the actions, the map after and the rewards; then the mask, the level channel, the text view,
layouts, maps, batch against single envs, bad configs and the task family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import worlds
from worlds import engine
from worlds.cells import FLOOR, FOOD
from worlds.maps import MapError
from worlds.observe import ascii_map, views
from worlds.scenarios.forage_v0 import COLLECT, TEST_TEAMS, TRAIN_TEAMS, food_lattice, task_family

CODES = {".": 0, "n": 1, "s": 2, "e": 3, "w": 4, "c": COLLECT}


def build(tmp_path: Path, picture: str, agent_levels, food_levels, **config):
    """A one-world State of the picture with the given levels (food in reading order)."""
    path = tmp_path / "map.txt"
    path.write_text(picture + "\n", encoding="utf-8")
    n = sum(char.isdigit() for char in picture)
    scenario = worlds.make_scenario("forage_v0", map=str(path), num_agents=n, **config)
    state = engine.reset(scenario, [np.random.default_rng(0)])
    assert ascii_map(scenario, state) == picture
    set_levels(state, agent_levels, food_levels)
    return scenario, state


def set_levels(state, agent_levels, food_levels) -> None:
    x = state.extra
    x["agent_level"][0] = agent_levels
    food = np.argwhere(x["food_level"][0] > 0)
    x["food_level"][0][food[:, 0], food[:, 1]] = food_levels
    x["food_total"][0] = sum(food_levels)


def drawn(scenario, state) -> str:
    """The map with every agent drawn, those whose episode just ended too."""
    shown = state.copy()
    shown.alive[:] = True
    return ascii_map(scenario, shown)


def step(scenario, state, code: str):
    return engine.step(scenario, state, np.array([[CODES[c] for c in code]]))


# (rule, agent levels, food levels, actions, before, after, rewards, terminated)
# fmt: off
RULES = [  # agent 1 is often an idle one two steps off: the scenario takes 2..4 agents
    ("one agent of the food's level collects it", (2, 1), (2,), "c.", "0f.1", "0..1", (1.0, 0.0), True),
    ("a higher level collects it too", (3, 1), (2,), "c.", "0f.1", "0..1", (1.0, 0.0), True),
    ("too low a level alone: nothing", (1, 1), (2,), "c.", "0f.1", "0f.1", (0.0, 0.0), False),
    ("two together reach the level, shared by level", (1, 1), (2,), "cc", "0f1", "0.1", (0.5, 0.5), True),
    ("shares follow the levels", (1, 3), (4,), "cc", "0f1", "0.1", (0.25, 0.75), True),
    ("one of the two does not collect: nothing", (1, 1), (2,), "c.", "0f1", "0f1", (0.0, 0.0), False),
    ("a helper moving away does not count", (1, 1), (2,), "ce", "0f1.", "0f.1", (0.0, 0.0), False),
    ("normalised by all the episode's food", (2, 1), (1, 3), "c.", "0f#f1", "0.#f1", (0.25, 0.0), False),
    ("next to two items: helps with both", (2, 2), (2, 4), "cc", "f0f1", ".0.1", (2 / 3, 1 / 3), True),
    ("an item two collect goes once", (1, 1), (1, 1), "cc", "0f1.f", "0.1.f", (0.25, 0.25), False),
    ("a collected item frees its cell in the same step", (2, 1), (2, 1), "cw", "0f1#f", "01.#f", (2 / 3, 0.0),
     False),
    ("collecting beside no food does nothing", (2, 2), (2,), "cc", "0.f.1", "0.f.1", (0.0, 0.0), False),
]
# fmt: on


@pytest.mark.parametrize(
    ("rule", "agent_levels", "food_levels", "actions", "before", "after", "rewards", "done"),
    RULES,
    ids=[row[0] for row in RULES],
)
def test_collect(tmp_path, rule, agent_levels, food_levels, actions, before, after, rewards, done) -> None:
    scenario, state = build(tmp_path, before, agent_levels, food_levels)
    got, terminated, _, _ = step(scenario, state, actions)
    assert drawn(scenario, state) == after, rule
    assert got[0].tolist() == pytest.approx(rewards), rule
    assert terminated[0].tolist() == [done] * len(agent_levels), rule
    assert state.extra["food_left"][0] == after.count("f")
    assert (state.extra["food_level"][0] > 0).sum() == after.count("f")


def test_diagonal_neighbours_do_not_count(tmp_path) -> None:
    picture = "0f.\n..1"
    scenario, state = build(tmp_path, picture, (1, 1), (2,))
    rewards, *_ = step(scenario, state, "cc")
    assert ascii_map(scenario, state) == picture and rewards.sum() == 0


def test_collect_is_legal_next_to_food_only(tmp_path) -> None:
    scenario, state = build(tmp_path, "0f.\n..1\n2..", (1, 1, 1), (3,))
    mask = engine.action_mask(scenario, state)[0, :, COLLECT]
    assert mask.tolist() == [1, 0, 0]  # 1 is diagonal, 2 two steps off
    step(scenario, state, ".nn")  # 1 steps next to the food, 2 to its diagonal
    assert engine.action_mask(scenario, state)[0, :, COLLECT].tolist() == [1, 1, 0]


def test_a_full_episode_pays_one_in_all(tmp_path) -> None:
    scenario, state = build(tmp_path, "0f1\n...\n2f3", (1, 1, 2, 2), (2, 4))
    rewards, terminated, _, _ = step(scenario, state, "cccc")
    assert rewards.sum() == pytest.approx(1.0) and terminated.all()
    assert rewards[0].tolist() == pytest.approx([1 / 6, 1 / 6, 1 / 3, 1 / 3])


def test_episode_ends_with_the_last_item_and_the_env_removes_everyone(tmp_path) -> None:
    path = tmp_path / "map.txt"
    path.write_text("0f1\n", encoding="utf-8")
    env = worlds.make_parallel("forage_v0", map=str(path))
    env.reset(seed=0)
    env.world.extra["agent_level"][0] = (2, 2)
    env.world.extra["food_level"][0, 0, 1] = 4
    env.world.extra["food_total"][0] = 4
    _, rewards, terms, truncs, _ = env.step({"agent_0": COLLECT, "agent_1": 0})
    assert rewards == {"agent_0": 0.0, "agent_1": 0.0} and not any(terms.values())
    _, rewards, terms, truncs, _ = env.step({"agent_0": COLLECT, "agent_1": COLLECT})
    assert rewards == pytest.approx({"agent_0": 0.5, "agent_1": 0.5})
    assert all(terms.values()) and not any(truncs.values()) and env.agents == []


def test_level_channel(tmp_path) -> None:
    scenario, state = build(tmp_path, "0f..\n....\n...1", (2, 3), (4,), view_size=3)
    seen = views(scenario, state)[0]
    assert seen.shape == (2, 3, 3, 4)
    # agent 0 at (0, 0): itself (2) in the middle, the food (4) east, nothing off the map
    assert seen[0, ..., 3].tolist() == [[0, 0, 0], [0, 2, 4], [0, 0, 0]]
    assert seen[1, ..., 3].tolist() == [[0, 0, 0], [0, 3, 0], [0, 0, 0]]
    scenario2, state2 = build(tmp_path, "0f..\n....\n...1", (2, 3), (2,), view_size=3)
    step(scenario2, state2, "c.")
    assert views(scenario2, state2)[0][0, 1, 2, 3] == 0  # collected: level gone with the food


def test_level_channel_matches_the_state_on_random_episodes() -> None:
    for seed in range(3):
        env = worlds.make_parallel("forage_v0", num_agents=3, view_size=5)
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        for _ in range(10):
            world, r = env.world, 2
            padded = np.pad(world.extra["food_level"][0], r)
            for j in np.flatnonzero(world.alive[0]):
                y, x = world.pos[0, j] + r
                padded[y, x] = world.extra["agent_level"][0, j]
            for agent in env.agents:
                i = env.possible_agents.index(agent)
                y, x = world.pos[0, i]
                np.testing.assert_array_equal(obs[agent]["view"][..., 3], padded[y : y + 5, x : x + 5])
                assert obs[agent]["level"].tolist() == [world.extra["agent_level"][0, i]]
            if not env.agents:
                break
            actions = {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents}
            obs, *_ = env.step(actions)


def test_text_view_tells_the_levels(tmp_path) -> None:
    path = tmp_path / "map.txt"
    path.write_text("0f...\n.....\n..1..\n", encoding="utf-8")
    env = worlds.make_parallel("forage_v0", map=str(path), obs_type="text", view_size=5)
    env.reset(seed=0)
    set_levels(env.world, (1, 3), (4,))
    obs, *_ = env.step({"agent_0": 0, "agent_1": 0})  # a noop step to observe the new levels
    text = obs["agent_0"]["text"]
    assert "Your level is 1." in text
    assert "Levels in view: food 1 east (level 4); agent_1 2 south and 2 east (level 3)." in text
    assert "collect" in text.split("Legal actions:")[1]
    assert "f food" in text
    assert "Your level is 3." in obs["agent_1"]["text"]
    assert "Legal actions: noop, north, east, west." in obs["agent_1"]["text"]  # south: off the map


def test_sprites_badge_every_food_and_agent(tmp_path) -> None:
    scenario, state = build(tmp_path, "0f..\n...1", (2, 3), (4,))
    badges = {(s.row, s.col, s.label) for s in scenario.sprites(state, 0)}
    assert badges == {(0, 1, "4"), (0, 0, "2"), (1, 3, "3")}
    assert {s.kind for s in scenario.sprites(state, 0)} == {"level"}


@pytest.mark.parametrize("seed", range(20))
def test_procedural_layouts(seed: int) -> None:
    scenario = worlds.make_scenario("forage_v0", num_agents=4, num_food=4, size=8, max_level=3)
    state = engine.reset(scenario, [np.random.default_rng(seed)])
    cells, levels = state.cells()[0], state.extra["food_level"][0]
    food = np.argwhere(cells == FOOD)
    assert len(food) == 4 and ((levels > 0) == (cells == FOOD)).all()
    for a in range(len(food)):  # apart, off the wall ring: four floor cells round every item
        assert all(np.abs(food[a] - food[b]).max() > 1 for b in range(a))
        for dy, dx in ((-1, 0), (1, 0), (0, 1), (0, -1)):
            assert cells[food[a][0] + dy, food[a][1] + dx] == FLOOR
    agent_level = state.extra["agent_level"][0]
    assert ((1 <= agent_level) & (agent_level <= 3)).all()
    assert (levels[levels > 0] <= agent_level.sum()).all()
    assert state.extra["food_total"][0] == levels.sum()
    assert (
        len({tuple(p) for p in state.pos[0].tolist()}) == 4 and (cells[tuple(state.pos[0].T)] == FLOOR).all()
    )


def test_force_coop_needs_every_agent() -> None:
    scenario = worlds.make_scenario("forage_v0", num_agents=3, force_coop=True)
    state = engine.reset(scenario, [np.random.default_rng(5)])
    levels = state.extra["food_level"][0]
    assert (levels[levels > 0] == state.extra["agent_level"][0].sum()).all()


def test_a_crowded_room_falls_back_to_the_lattice() -> None:
    most = len(food_lattice(9))
    scenario = worlds.make_scenario("forage_v0", size=9, num_food=most, num_agents=4)
    for seed in range(10):
        state = engine.reset(scenario, [np.random.default_rng(seed)])
        assert (state.cells()[0] == FOOD).sum() == most


def test_shipped_map_and_a_map_without_food(tmp_path) -> None:
    env = worlds.make_parallel("forage_v0", map="forage_field", num_agents=4)
    env.reset(seed=0)
    assert (env.world.cells()[0] == FOOD).sum() == 5
    path = tmp_path / "map.txt"
    path.write_text("0..1\n", encoding="utf-8")
    with pytest.raises(MapError, match="food"):
        worlds.make_parallel("forage_v0", map=str(path)).reset(seed=0)


def test_batch_equals_single_envs() -> None:
    B, seed = 3, 40
    batch = worlds.make_batch("forage_v0", B, seed=seed, size=6, num_food=1, max_level=2, max_cycles=15)
    singles = [
        worlds.make_parallel("forage_v0", size=6, num_food=1, max_level=2, max_cycles=15) for _ in range(B)
    ]
    obs = batch.reset()
    single = [env.reset(seed=seed + b)[0] for b, env in enumerate(singles)]
    rng = np.random.default_rng(0)
    collected = 0
    for _ in range(40):
        for b, env in enumerate(singles):
            for i, agent in enumerate(env.possible_agents):
                if agent in single[b]:
                    for key in ("view", "action_mask", "level"):
                        np.testing.assert_array_equal(obs[key][b, i], single[b][agent][key])
        # mostly collect where legal, so food does get collected
        mask = obs["action_mask"]
        actions = (
            rng.random(mask.shape) * mask + 2.0 * mask * (np.arange(mask.shape[-1]) == COLLECT)
        ).argmax(-1)
        obs, rewards, terminated, _, infos = batch.step(actions)
        collected += int(infos["events"]["collected"].sum())
        for b, env in enumerate(singles):
            step_actions = {
                a: int(actions[b, i]) for i, a in enumerate(env.possible_agents) if a in env.agents
            }
            s_obs, s_rew, s_term, _, _ = env.step(step_actions)
            assert rewards[b].tolist() == pytest.approx([s_rew.get(a, 0.0) for a in env.possible_agents])
            single[b] = s_obs if env.agents else env.reset()[0]
    assert collected > 0


# fmt: off
BAD = [
    ({"num_agents": 1}, "num_agents"),
    ({"num_agents": 5}, "num_agents"),
    ({"max_level": 0}, "max_level"),
    ({"max_level": 5}, "max_level"),
    ({"size": 4}, "size"),
    ({"size": 25}, "size"),
    ({"num_food": 0}, "num_food"),
    ({"num_food": 5, "size": 8}, "num_food"),
    ({"force_coop": "yes"}, "force_coop"),
    ({"size": 5, "num_food": 1, "num_agents": 4, "max_level": 1}, None),  # fits: 9 cells
]
# fmt: on


@pytest.mark.parametrize(("config", "words"), BAD, ids=[str(c) for c, _ in BAD])
def test_bad_config(config: dict, words: str | None) -> None:
    if words is None:
        worlds.make_scenario("forage_v0", **config)
        return
    with pytest.raises(ValueError, match=words):
        worlds.make_scenario("forage_v0", **config)


def test_task_family_splits_are_disjoint_and_valid() -> None:
    assert not set(TRAIN_TEAMS) & set(TEST_TEAMS)
    rng = np.random.default_rng(0)
    for split, teams in (("train", TRAIN_TEAMS), ("test", TEST_TEAMS)):
        for _ in range(30):
            config, difficulty = task_family(rng, split)
            assert (config["num_agents"], config["force_coop"]) in teams and difficulty > 0
            worlds.make_scenario("forage_v0", **config)  # valid
    with pytest.raises(ValueError, match="split"):
        task_family(rng, "dev")
