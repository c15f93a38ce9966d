"""harvest_v0's rules, table-driven from small ASCII maps, plus its metrics, views and config.

Maps are drawn side by side (see tests/worlds/test_rules.py): the start, then the map after
each step. Agents on the board are digits, frozen agents `*` (an agent on the board hides a
frozen one under it). One action character per agent: `.` noop, `n` `s` `e` `w` moves, `z` zap.
`facing` gives each agent's last move before the first step (`.`: none, so north).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import worlds
from worlds import engine
from worlds.cells import APPLE, CHAR_TABLE
from worlds.maps import MapError
from worlds.scenarios.harvest_v0 import METRICS, Harvest, count_near, social_metrics, task_family
from worlds.state import State

CODES = {".": 0, "n": 1, "s": 2, "e": 3, "w": 4, "z": 5}
# Rules tests: nothing regrows, zaps recharge at once, freezes last 3 steps.
RULES = {"regrowth": "0", "zap_cooldown": 0, "freeze_steps": 3}


def side_by_side(text: str) -> list[str]:
    """Maps drawn side by side -> one string per map."""
    rows = [line.split() for line in textwrap.dedent(text).strip().splitlines()]
    return ["\n".join(row[k] for row in rows) for k in range(len(rows[0]))]


def write_map(tmp_path, picture: str):
    path = tmp_path / "map.txt"
    path.write_text(picture + "\n", encoding="utf-8")
    return path


def build(tmp_path, picture: str, facing: str = "", **config) -> tuple[Harvest, State]:
    n = sum(char.isdigit() for char in picture)
    scenario = worlds.make_scenario(
        "harvest_v0", map=str(write_map(tmp_path, picture)), num_agents=n, **{**RULES, **config}
    )
    state = engine.reset(scenario, [np.random.default_rng(0)])
    state.last_move[0] = [CODES[c] for c in facing.ljust(n, ".")]
    assert draw(scenario, state) == picture
    return scenario, state


def draw(scenario: Harvest, state: State) -> str:
    """World 0 as text: frozen agents `*`, agents on the board (drawn last) their digit."""
    chars = CHAR_TABLE[state.cells()[0]].copy()
    present = scenario.present(state)[0]
    for i in np.flatnonzero(state.alive[0] & ~present):
        chars[tuple(state.pos[0, i])] = "*"
    for i in np.flatnonzero(present):
        chars[tuple(state.pos[0, i])] = str(i)
    return "\n".join("".join(row) for row in chars)


def play(scenario: Harvest, state: State, steps: list[str]):
    """Step with raw actions (no mask: the rules themselves must refuse); the maps after each
    step and the last step's results."""
    maps, out = [], None
    for code in steps:
        out = engine.step(scenario, state, np.array([[CODES[c] for c in code]]))
        maps.append(draw(scenario, state))
    return maps, out


# (rule, config, facing, actions of each step, maps: start, then after each step)
# fmt: off
ZAPS = [
    ("the beam freezes the first agent along the last move", {}, "e", ["z.."], "0.12  0.*2"),
    ("before any move the beam points north", {}, "", ["z."], """
        1  *
        .  .
        0  0
    """),
    ("a wall stops the beam", {}, "e", ["z."], "0#1  0#1"),
    ("the beam reaches beam_length cells", {}, "e", ["z."], "0..1  0..*"),
    ("and no further", {}, "e", ["z."], "0...1  0...1"),
    ("beam_length is an option", {"beam_length": 4}, "e", ["z."], "0...1  0...*"),
    ("a frozen agent is not in the way", {}, "e", ["z..", "z.."], "01.2  0*.2  0*.*"),
    ("two agents zap each other at once", {}, "ew", ["zz"], "0.1  *.*"),
    ("a zapped agent does not move that step", {}, "e", ["ze"], "0.1.  0.*."),
    ("another agent may step into a frozen agent's cell", {}, "e", ["z.w"], "0.12  0.2."),
    ("back where it was after freeze_steps steps", {}, "e", ["z.", "..", ".."], "0.1  0.*  0.*  0.1"),
    ("freeze_steps is an option", {"freeze_steps": 1}, "e", ["z."], "0.1  0.1"),
    ("back only once its cell is free", {}, "e", ["z.w", "...", "...", "..e", "..."],
     "0.12.  0.2..  0.2..  0.2..  0.12.  0.12."),
    ("a frozen agent cannot move", {}, "e", ["z.", ".e"], "0.1.  0.*.  0.*."),
    ("a frozen agent cannot zap", {}, "ew", ["z.", ".z"], "0.1  0.*  0.*"),
    ("zap_cooldown: no second zap until it recharges", {"zap_cooldown": 1}, "e",
     ["z..", "z..", "z.."], "01.2  0*.2  0*.2  01.*"),
]
# fmt: on


@pytest.mark.parametrize(("rule", "config", "facing", "steps", "maps"), ZAPS, ids=[z[0] for z in ZAPS])
def test_zap(tmp_path, rule: str, config: dict, facing: str, steps: list[str], maps: str) -> None:
    # A row with an apple below each map, so the episode does not end at once.
    pictures = side_by_side(maps)
    width = len(pictures[0].split("\n")[0])
    start, *after = [m + "\n" + "a".ljust(width, ".") for m in pictures]
    scenario, state = build(tmp_path, start.replace("*", "."), facing, **config)
    got, _ = play(scenario, state, steps)
    assert got == after, rule


# (rule, config, actions of each step, maps, last step's rewards)
# fmt: off
APPLES = [
    ("stepping on an apple collects it", {}, ["e"], "0a...a  .0...a", [1.0]),
    ("an agent on an apple's cell at the start collects it on the first step", {}, ["."],
     ".0.a  .0.a", [0.0]),
    ("apples regrow next to an apple, not under an agent", {"regrowth": "0,1"}, ["e", "e"], """
        0a.  .0.  .a0
        .a.  .a.  .a.
    """, [0.0]),
    ("nothing regrows with no apple within radius 2", {"regrowth": "0,1"}, ["e", "e"],
     "0a...a  .0...a  ..0..a", [0.0]),
    ("only orchard cells regrow", {"regrowth": "0,1"}, ["e"], "0aa.  .0a.", [1.0]),
    ("radius 2 counts two cells straight off", {"regrowth": "0,1"}, ["e", "e"], """
        0a.  .0.  .a0
        ...  ...  ...
        .a.  .a.  .a.
    """, [0.0]),
    ("but not a knight's move away (squared distance 5)", {"regrowth": "0,1"}, ["e", "e"], """
        0a..  .0..  ..0.
        ....  ....  ....
        ..a.  ..a.  ..a.
    """, [0.0]),
    ("the table's last entry serves larger counts", {"regrowth": "0,0,1"}, ["e", "e"], """
        0a.  .0.  .a0
        aa.  aa.  aa.
    """, [0.0]),
    ("one apple near is not enough with regrowth 0,0,1", {"regrowth": "0,0,1"}, ["e", "e"], """
        0a.  .0.  ..0
        .a.  .a.  .a.
    """, [0.0]),
]
# fmt: on


@pytest.mark.parametrize(("rule", "config", "steps", "maps", "rewards"), APPLES, ids=[a[0] for a in APPLES])
def test_apples(tmp_path, rule: str, config: dict, steps: list[str], maps: str, rewards: list) -> None:
    start, *after = side_by_side(maps)
    scenario, state = build(tmp_path, start, "e", **config)
    got, (rew, _, _, _) = play(scenario, state, steps)
    assert got == after, rule
    assert rew[0].tolist() == rewards
    apple = state.cells()[0] == APPLE
    assert state.extra["apples"][0] == apple.sum()
    np.testing.assert_array_equal(state.extra["near"][0], count_near(apple))


def test_the_last_apple_ends_the_episode(tmp_path) -> None:
    scenario, state = build(tmp_path, "0a.1", regrowth="0,1")
    _, (rewards, terminated, truncated, events) = play(scenario, state, ["e."])
    assert rewards.tolist() == [[1.0, 0.0]]
    assert terminated.tolist() == [[True, True]] and not truncated.any()
    assert events["apples"].tolist() == [0]
    assert scenario.success(terminated).tolist() == [False]


def test_truncation_with_apples_left_is_a_success(tmp_path) -> None:
    scenario, state = build(tmp_path, "0.a", max_cycles=2)
    _, (_, terminated, truncated, _) = play(scenario, state, [".", "."])
    assert truncated.tolist() == [[True]] and not terminated.any()
    assert scenario.success(terminated).tolist() == [True]


def test_zap_cost_is_paid_per_zap(tmp_path) -> None:
    scenario, state = build(tmp_path, "0...1a", "e", zap_cost=0.25)
    _, (rewards, *_) = play(scenario, state, ["z."])  # a miss costs too
    assert rewards.tolist() == [[-0.25, 0.0]]


def test_regrowth_follows_the_table(tmp_path) -> None:
    """An empty orchard cell with one apple near regrows with the table's probability, over
    many worlds (the counter-based draws are fair and differ between worlds)."""
    scenario = worlds.make_scenario("harvest_v0", map=str(write_map(tmp_path, "0aa")), num_agents=1,
                                    regrowth="0,0.3")  # fmt: skip
    state = engine.reset(scenario, [np.random.default_rng(seed) for seed in range(4000)])
    engine.step(scenario, state, np.full((4000, 1), 3))  # collect the first apple
    engine.step(scenario, state, np.full((4000, 1), 4))  # step off it: its cell may regrow now
    regrown = state.cells()[:, 0, 1] == APPLE
    assert abs(regrown.mean() - 0.3) < 0.03


def test_social_metrics_by_hand(tmp_path) -> None:
    """Agent 0 collects at steps 1 and 3, agent 1 at step 2 after zapping agent 2 (frozen for
    the 3 steps of the episode)."""
    scenario, state = build(tmp_path, "0aaa.\n1a2..\n.....", "ee", max_cycles=3)
    events = [play(scenario, state, [step])[1][3] for step in ("ezs", ".e.", "e..")]
    last = {name: events[-1][name][0] for name in METRICS}
    apples = np.array([2, 1, 0])
    gini = np.abs(apples[:, None] - apples[None]).sum() / (2 * 3 * apples.sum())
    assert last == pytest.approx(
        {"collective_return": 3.0, "equality": 1 - gini, "sustainability": 2.0, "peace": 3 - 3 / 3}
    )
    final = social_metrics(state)  # after the last step: the same figures
    assert {name: final[name][0] for name in METRICS} == pytest.approx(last)
    assert events[0]["zapped"].tolist() == [[False, False, True]]
    assert events[0]["fired"].tolist() == [[False, True, False]]


def test_batch_infos_carry_the_metrics() -> None:
    env = worlds.make_batch("harvest_v0", 3, seed=0, size=9, patches=1, max_cycles=20)
    obs = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(20):
        actions = np.where(obs["action_mask"] > 0, rng.random(obs["action_mask"].shape), -1).argmax(-1)
        obs, _, _, _, infos = env.step(actions)
    assert infos["done"].all()
    final = social_metrics(infos["final_state"])
    for name in METRICS:
        np.testing.assert_allclose(infos["events"][name], final[name])
    np.testing.assert_allclose(final["collective_return"], infos["episode_return"].sum(1))


def test_frozen_agents_are_off_the_board(tmp_path) -> None:
    scenario, state = build(tmp_path, "0.1.a", "e", zap_cooldown=2)
    play(scenario, state, ["z."])
    mask = engine.action_mask(scenario, state)[0]
    assert mask.tolist() == [[1, 0, 0, 1, 0, 0], [1, 0, 0, 0, 0, 0]]  # recharging; frozen: noop
    view = worlds.observe.views(scenario, state)[0]
    assert view[0, 3, 5, 1] == 0  # agent 1 (two cells east) unseen
    assert view[1, 3, 3, 1] == 0  # nor does it see itself
    assert [(s.row, s.col, s.kind) for s in scenario.sprites(state, 0)] == [(0, 2, "frozen")]
    words = scenario.status_words(state, 0, 1)
    assert words[0].startswith("You are frozen (zapped): off the board for 2 more steps")
    beam = "Your zap beam points east, 3 cells; recharging for 2 more steps."
    assert scenario.status_words(state, 0, 0)[0] == beam


def test_the_beam_channel(tmp_path) -> None:
    scenario, state = build(tmp_path, "....a\n..0#.\n.....", "w", view_size=5)
    beam = worlds.observe.views(scenario, state)[0, 0, ..., 3]
    expected = np.zeros((5, 5), np.uint8)
    expected[2, :2] = 1  # west, two cells (the view's edge; the map ends there too)
    np.testing.assert_array_equal(beam, expected)
    state.last_move[0, 0] = 3  # east: the wall stops it at once
    assert not worlds.observe.views(scenario, state)[0, 0, ..., 3].any()
    state.last_move[0, 0] = 1
    state.extra["cooldown"][0, 0] = 1
    beam = worlds.observe.views(scenario, state)[0, 0, ..., 3]
    assert beam[1, 2] == 2 and beam.sum() == 2  # north, recharging, one cell to the map's edge


def test_text_view_says_what_matters() -> None:
    env = worlds.make_parallel("harvest_v0", obs_type="text")
    obs, _ = env.reset(seed=0)
    text = obs["harvester_0"]["text"]
    assert "a apple" in text and "Your zap beam points north, 3 cells; ready." in text
    assert "You have collected 0 apples." in text and "Legal actions: noop" in text


def test_batch_world_replays_single_env_over_a_long_episode() -> None:
    """Regrowth and zaps over 200 steps: batch world b is the env reset with seed + b."""
    config = {"size": 9, "patches": 2, "max_cycles": 200}
    batch = worlds.make_batch("harvest_v0", 3, seed=5, **config)
    singles = [worlds.make_parallel("harvest_v0", **config) for _ in range(3)]
    batch.reset()
    for b, env in enumerate(singles):
        env.reset(seed=5 + b)
    rng = np.random.default_rng(1)
    regrown = 0
    for _ in range(199):
        actions = rng.integers(0, 6, size=(3, 4))
        before = batch.world.cells().copy()
        batch.step(actions)
        regrown += ((batch.world.cells() == APPLE) & (before != APPLE)).sum()
        for b, env in enumerate(singles):
            env.step({a: int(actions[b, i]) for i, a in enumerate(env.agents)})
            if not env.agents:  # the orchard died: the batch world started its next episode
                env.reset()
            one = batch.world.world(b).to_dict()
            for key, value in env.world.to_dict().items():
                np.testing.assert_array_equal(one[key], value, err_msg=key)
    assert regrown > 0


BAD = [
    ("size", 6), ("size", 32), ("patches", 0), ("patches", 20), ("beam_length", 0), ("freeze_steps", 0),
    ("zap_cooldown", -1), ("zap_cost", -0.5), ("zap_cost", float("nan")), ("regrowth", "0.1,0.2"),
    ("regrowth", (0.0, 1.5)), ("regrowth", "0,x"), ("regrowth", ()), ("regrowth", (0.0,) * 14),
]  # fmt: skip


@pytest.mark.parametrize(("option", "value"), BAD)
def test_bad_config_names_the_option(option: str, value) -> None:
    with pytest.raises(ValueError, match=option):
        Harvest(**{option: value})


def test_regrowth_from_the_command_line() -> None:
    assert Harvest(regrowth="0, 0.5,1").regrowth == (0.0, 0.5, 1.0)
    assert Harvest(regrowth=[0, 0.1]).regrowth == (0.0, 0.1)


def test_maps(tmp_path) -> None:
    env = worlds.make_parallel("harvest_v0", map="harvest_orchard")
    env.reset(seed=0)
    assert (env.world.cells()[0] == APPLE).sum() == env.world.extra["apples"][0] > 0
    path = write_map(tmp_path, "#0.#")
    with pytest.raises(MapError, match="needs at least one apple"):
        worlds.make_parallel("harvest_v0", map=str(path), num_agents=1).reset(seed=0)


def test_task_family_splits_are_disjoint() -> None:
    rng = np.random.default_rng(0)
    draws = {split: [task_family(rng, split) for _ in range(200)] for split in ("train", "test")}
    keys = {split: {tuple(sorted(c.items())) for c, _ in got} for split, got in draws.items()}
    assert keys["train"] and keys["test"] and not keys["train"] & keys["test"]
    for config, difficulty in draws["train"] + draws["test"]:
        Harvest(**config)
        assert difficulty > 0
    with pytest.raises(ValueError, match="split"):
        task_family(rng, "validation")
