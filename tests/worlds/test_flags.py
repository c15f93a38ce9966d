"""flags_v0's rules from small ASCII maps: pick up, carry, capture, tag on one's own half,
the score limit; then masks, the flag and territory channels, the text view, mirrored layouts,
batch against single envs and bad configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import worlds
from worlds import engine
from worlds.cells import BASE, WALL
from worlds.maps import MapError
from worlds.observe import views
from worlds.scenarios.flags_v0 import TAG

CODES = {".": 0, "n": 1, "s": 2, "e": 3, "w": 4, "t": TAG}


def build(tmp_path: Path, picture: str, **config):
    path = tmp_path / "map.txt"
    path.write_text(picture + "\n", encoding="utf-8")
    n = sum(char.isdigit() for char in picture)
    scenario = worlds.make_scenario("flags_v0", map=str(path), num_agents=n, **config)
    state = engine.reset(scenario, [np.random.default_rng(0)])
    return scenario, state


def step(scenario, state, code: str):
    actions = np.array([[CODES[c] for c in code]], dtype=np.int64)
    return engine.step(scenario, state, actions)


# A corridor 8 wide: west half columns 0-3, east half 4-7. Agents 0 (west) and 1 (east).
CORRIDOR = "<0....1>"


def test_pick_up_and_carry(tmp_path) -> None:
    scenario, state = build(tmp_path, "<.1..0.>")  # west_0 two steps from the east base
    x = state.extra
    step(scenario, state, "e.")
    assert x["carrier"][0, 1] == -1
    step(scenario, state, "e.")  # onto '>': picks up the east flag
    assert x["carrier"][0, 1] == 0 and tuple(x["flag"][0, 1]) == (0, 7)
    step(scenario, state, "w.")  # the flag moves with its carrier
    assert x["carrier"][0, 1] == 0 and tuple(x["flag"][0, 1]) == (0, 6)


def test_capture_scores_and_the_flag_goes_home(tmp_path) -> None:
    scenario, state = build(tmp_path, "<0.1.#\n......\n.....>", score_limit=2)
    x = state.extra
    x["carrier"][0, 1] = 0  # west_0 carries the east flag, one step from its base
    x["flag"][0, 1] = state.pos[0, 0]
    rewards, terminated, *_ = step(scenario, state, "w.")
    assert rewards[0].tolist() == [1.0, -1.0] and not terminated.any()
    assert x["score"][0].tolist() == [1, 0] and x["carrier"][0].tolist() == [-1, -1]
    assert tuple(x["flag"][0, 1]) == (2, 5)  # home on '>'


def test_the_score_limit_ends_the_episode(tmp_path) -> None:
    scenario, state = build(tmp_path, "<0.1.#\n......\n.....>", score_limit=1)
    state.extra["carrier"][0, 1] = 0
    rewards, terminated, *_ = step(scenario, state, "w.")
    assert terminated.all() and rewards[0].tolist() == [1.0, -1.0]


def test_stepping_on_the_rival_flag_picks_it_up_but_not_ones_own(tmp_path) -> None:
    scenario, state = build(tmp_path, "<1....0>")  # agent 0 (west) stands east, 1 (east) west
    x = state.extra
    step(scenario, state, "ew")  # each onto the other team's base: both pick up
    assert x["carrier"][0].tolist() == [1, 0]
    scenario, state = build(tmp_path, "<0....1>")
    step(scenario, state, "we")  # onto their own bases: nothing
    assert state.extra["carrier"][0].tolist() == [-1, -1]


def test_tag_on_own_half_sends_the_rival_home_and_drops_the_flag(tmp_path) -> None:
    # agents 0, 1 west; 2, 3 east. Width 8: columns 0-3 are west's half.
    scenario, state = build(tmp_path, "<.02.#.>\n.1....3.")
    x = state.extra
    x["spawn"][0, 2] = (1, 6)
    state.pos[0, 3] = (1, 7)
    x["carrier"][0, 0] = 2  # east_0 (agent 2) carries the west flag
    x["flag"][0, 0] = state.pos[0, 2]
    rewards, *_ = step(scenario, state, "t.e.")  # 2 tries to step east; the tag lands first
    assert tuple(state.pos[0, 2]) == (1, 6)  # at its spawn, its move cancelled
    assert x["carrier"][0, 0] == -1 and tuple(x["flag"][0, 0]) == (0, 0)
    assert rewards.sum() == 0


def test_tag_is_legal_only_on_ones_own_half_next_to_a_rival_there(tmp_path) -> None:
    scenario, state = build(tmp_path, "<..01...>\n.........")  # width 9: column 4 is the middle
    mask = engine.action_mask(scenario, state)[0, :, TAG]
    assert mask.tolist() == [0, 0]  # 0 on its half, but 1 stands in the neutral middle
    scenario, state = build(tmp_path, "<.01....>\n.........")
    assert engine.action_mask(scenario, state)[0, :, TAG].tolist() == [1, 0]  # 1 is on west's half
    scenario, state = build(tmp_path, "<....01.>\n.........")
    assert engine.action_mask(scenario, state)[0, :, TAG].tolist() == [0, 1]


def test_a_tag_off_ones_own_half_does_nothing(tmp_path) -> None:
    scenario, state = build(tmp_path, "<....01.>")  # both on the east half
    before = state.pos.copy()
    step(scenario, state, "t.")
    np.testing.assert_array_equal(state.pos, before)


def test_tagged_agent_goes_to_another_free_spawn_when_its_own_is_taken(tmp_path) -> None:
    scenario, state = build(tmp_path, "<.0....>\n.1.23...")  # 0,1 west; 2,3 east
    x = state.extra
    x["spawn"][0, 2] = (1, 1)  # east_0's spawn is held by west_1
    x["spawn"][0, 3] = (0, 5)
    state.pos[0, 3] = (1, 4)
    state.pos[0, 2] = (0, 3)  # next to west_0 at (0, 2)
    step(scenario, state, "t...")
    assert tuple(state.pos[0, 2]) == (0, 5)


def test_flag_and_territory_channels(tmp_path) -> None:
    scenario, state = build(tmp_path, "<0..1.>\n.......", view_size=3)
    seen = views(scenario, state)[0]
    assert seen.shape == (2, 3, 3, 5)
    # west_0 at (0, 1): its own flag on '<' west of it; territory: own half 1, off the map 0
    assert seen[0, 1, 0, 3] == 1
    assert seen[0, ..., 4].tolist() == [[0, 0, 0], [1, 1, 1], [1, 1, 1]]
    # east_0 at (0, 4), width 7: column 3 is the middle (0), 4 and 5 its own half
    assert seen[1, ..., 4].tolist() == [[0, 0, 0], [0, 1, 1], [0, 1, 1]]
    state.extra["carrier"][0, 1] = 0  # west_0 carries the east flag: a carrier of the rival flag
    state.extra["flag"][0, 1] = state.pos[0, 0]
    seen = views(scenario, state)[0]
    assert seen[0, 1, 1, 3] == 3


def test_text_view_and_dict_entries(tmp_path) -> None:
    path = tmp_path / "map.txt"
    path.write_text("<0..1.>\n.......\n", encoding="utf-8")
    env = worlds.make_parallel("flags_v0", map=str(path), obs_type="text", num_agents=2)
    obs, _ = env.reset(seed=0)
    text = obs["west_0"]["text"]
    assert "Score: west (yours) 0, east 0; first to 2 wins. You are on your own half." in text
    assert "The rival flag is at its base, 5 east." in text and "Your flag is at its base, 1 west." in text
    assert obs["west_0"]["carrying"].tolist() == [0] and obs["east_0"]["score"].tolist() == [0, 0]


def test_sprites_show_flags_and_carried_flags(tmp_path) -> None:
    scenario, state = build(tmp_path, "<0..1.>")
    assert sorted((s.kind, s.row, s.col) for s in scenario.sprites(state, 0)) == [
        ("flag", 0, 0),
        ("flag", 0, 6),
    ]
    state.extra["carrier"][0, 1] = 0
    assert ("carried_flag", 0, 1) in {(s.kind, s.row, s.col) for s in scenario.sprites(state, 0)}


@pytest.mark.parametrize("seed", range(8))
def test_procedural_fields_are_mirror_images(seed: int) -> None:
    scenario = worlds.make_scenario("flags_v0", num_agents=6, size=9)
    state = engine.reset(scenario, [np.random.default_rng(seed)])
    cells = state.cells()[0]
    west, east = cells[:, :9], cells[:, 9:][:, ::-1]
    np.testing.assert_array_equal(np.where(west == BASE, BASE + 1, west), east)
    spawn = state.extra["spawn"][0]
    np.testing.assert_array_equal(spawn[3:, 1], 17 - spawn[:3, 1])
    assert (cells == WALL).sum() > 2 * 9 + 2 * 18 - 4  # some inner walls


def test_maps_need_both_bases_and_the_shipped_map_loads(tmp_path) -> None:
    env = worlds.make_parallel("flags_v0", map="flags_arena")
    env.reset(seed=0)
    path = tmp_path / "map.txt"
    path.write_text("<0..1.\n", encoding="utf-8")
    with pytest.raises(MapError, match="'>'"):
        worlds.make_parallel("flags_v0", map=str(path)).reset(seed=0)


@pytest.mark.parametrize(
    ("config", "words"),
    [({"num_agents": 3}, "num_agents"), ({"score_limit": 0}, "score_limit"), ({"walls": 0.9}, "walls"),
     ({"size": 4}, "size"), ({"size": 5, "num_agents": 10}, "size")],
)  # fmt: skip
def test_bad_config(config: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        worlds.make_scenario("flags_v0", **config)


def test_task_family_splits_are_disjoint_and_valid() -> None:
    from worlds.scenarios.flags_v0 import TEST_KNOBS, TRAIN_KNOBS, task_family

    assert not set(TRAIN_KNOBS) & set(TEST_KNOBS)
    rng = np.random.default_rng(0)
    for split, knobs in (("train", TRAIN_KNOBS), ("test", TEST_KNOBS)):
        for _ in range(20):
            config, difficulty = task_family(rng, split)
            assert (config["num_agents"], config["walls"]) in knobs and difficulty > 0
            worlds.make_scenario("flags_v0", **config)


def test_pickup_bonus_pays_the_carriers_team_and_costs_the_rivals() -> None:
    env = worlds.make_batch("flags_v0", 1, seed=0, pickup_bonus=0.25, walls=0.0, size=5)
    env.reset()
    x, world = env.world.extra, env.world
    carrier = 0  # west_0, put next to the east flag and step onto it
    flag = x["flag"][0, 1]
    world.pos[0, carrier] = (flag[0], flag[1] - 1)
    actions = np.zeros((1, 4), np.int64)
    actions[0, carrier] = 3  # east
    _, rewards, *_ = env.step(actions)
    assert x["carrier"][0, 1] == carrier
    np.testing.assert_allclose(rewards[0], [0.25, 0.25, -0.25, -0.25])
    with pytest.raises(ValueError, match="pickup_bonus"):
        worlds.make_scenario("flags_v0", pickup_bonus=float("nan"))


def test_a_flag_lost_to_a_tag_gives_its_pickup_bonus_back() -> None:
    # A 5 x 10 open field: the east flag stands on the east base at (2, 8).
    env = worlds.make_batch("flags_v0", 1, seed=0, pickup_bonus=0.25, walls=0.0, size=5)
    env.reset()
    x, world = env.world.extra, env.world
    assert tuple(x["flag"][0, 1]) == (2, 8)
    world.pos[0] = [(2, 7), (1, 2), (3, 6), (1, 7)]  # west_0 beside the flag, east_1 above it
    actions = np.zeros((1, 4), np.int64)
    actions[0, 0] = 3  # west_0 steps east onto the flag: +0.25 for west
    _, rewards, *_ = env.step(actions)
    np.testing.assert_allclose(rewards[0], [0.25, 0.25, -0.25, -0.25])
    world.pos[0, 3] = (1, 8)  # east_1 now beside the carrier, on its own half
    env._observe()  # the masks of the moved world: east_1 may tag
    actions = np.zeros((1, 4), np.int64)
    actions[0, 3] = TAG
    _, rewards, *_ = env.step(actions)
    assert x["carrier"][0, 1] == -1 and tuple(x["flag"][0, 1]) == (2, 8)
    np.testing.assert_allclose(rewards[0], [-0.25, -0.25, 0.25, 0.25])
