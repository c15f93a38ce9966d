"""signal_v0's rules from small ASCII maps: words heard on the next step, the speaker held still,
the target won and a wrong landmark lost, the noisy channel, what every view says, config checks.

Maps: `!` red, `%` blue, `&` yellow, `*` violet landmarks; digits are agents (agent_0 is the
speaker unless `roles="split"`). One action character per agent: `.` noop, `n` `s` `e` `w`
moves, `R` `B` `Y` `V` say red, blue, yellow, violet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import worlds
from worlds import engine
from worlds.cells import LANDMARK
from worlds.kernels import time_bonus
from worlds.maps import MapError
from worlds.observe import ascii_map, views
from worlds.scenarios.signal_v0 import _TASK_KNOBS, SAY, task_family

CODES = {".": 0, "n": 1, "s": 2, "e": 3, "w": 4, "R": SAY, "B": SAY + 1, "Y": SAY + 2, "V": SAY + 3}
RED, BLUE = 0, 1
WON = time_bonus(0, 40)  # the team reward for a win on the first step (max_cycles 40)


def build(tmp_path: Path, picture: str, target: int, **config):
    """A scenario on the map `picture` and its one-world state, with `target` the target colour
    (set over whatever the reset drew, every clue with it)."""
    path = tmp_path / "map.txt"
    path.write_text(picture + "\n", encoding="utf-8")
    agents = sum(char.isdigit() for char in picture)
    scenario = worlds.make_scenario("signal_v0", map=str(path), num_agents=agents, **config)
    state = engine.reset(scenario, [np.random.default_rng(0)])
    state.extra["target"][:] = target
    state.extra["clue"][:] = scenario.clues[target]
    return scenario, state


def step(scenario, state, code: str, illegal: str = "raise"):
    actions = engine.check_actions(scenario, state, np.array([[CODES[c] for c in code]]), illegal=illegal)
    rewards, terminated, truncated, events = engine.step(scenario, state, actions)
    return rewards[0].tolist(), terminated[0].tolist(), truncated[0].tolist()


# (rule, map, target, config, steps: (actions, map after, team reward, all terminated, lost))
# fmt: off
RULES = [
    ("a listener on the target wins for the team", "0.1!%", RED, {},
     [("..", "0.1!%", 0.0, False, False), (".e", "...!%", WON - 0.9 / 40, True, False)]),  # they leave
    ("a listener on another colour loses the round", "0.1!%", BLUE, {},
     [(".e", "0..1%", 0.0, False, True)]),
    ("the speaker's word does not end or lose anything", "0.1!%", RED, {},
     [("R.", "0.1!%", 0.0, False, False), ("B.", "0.1!%", 0.0, False, False)]),
    ("split: both walk; the target beats a wrong landmark on the same step", "!0.1%", RED,
     {"roles": "split"}, [("we", "!...%", WON, True, False)]),
    ("split: a wrong landmark alone loses", "!0.1%", RED, {"roles": "split"},
     [(".e", "!0..1", 0.0, False, True)]),
    ("the speaker standing by a landmark is not on it", "!0%1", RED, {},
     [("R.", "!0%1", 0.0, False, False)]),
]
# fmt: on


@pytest.mark.parametrize(("rule", "picture", "target", "config", "steps"), RULES, ids=[r[0] for r in RULES])
def test_rules(rule, picture, target, config, steps, tmp_path: Path) -> None:
    scenario, state = build(tmp_path, picture, target, **config)
    for actions, after, reward, ended, lost in steps:
        rewards, terminated, _ = step(scenario, state, actions)
        assert ascii_map(scenario, state) == after, rule
        assert rewards == pytest.approx([reward] * scenario.num_agents), rule
        assert terminated == [ended] * scenario.num_agents, rule
        assert bool(state.extra["lost"][0]) == lost, rule
        if lost:
            assert (state.extra["clue"] == 0).all()


def test_speaker_cannot_move_and_listeners_cannot_talk(tmp_path: Path) -> None:
    scenario, state = build(tmp_path, ".0.1.!%", RED)
    mask = engine.action_mask(scenario, state)[0]
    assert mask[0].tolist() == [1, 0, 0, 0, 0, 1, 1, 1, 1]  # speaker: noop and the four words
    assert mask[1].tolist() == [1, 0, 0, 1, 1, 0, 0, 0, 0]  # listener: noop and moves
    with pytest.raises(ValueError, match="not legal"):
        step(scenario, state, "e.")
    with pytest.raises(ValueError, match="not legal"):
        step(scenario, state, ".R")
    step(scenario, state, "ee", illegal="noop")  # a masked move becomes a noop
    assert ascii_map(scenario, state) == ".0..1!%"


def test_split_agents_talk_and_walk_third_listens(tmp_path: Path) -> None:
    scenario, state = build(tmp_path, ".0.1.2!%&", RED, roles="split")
    mask = engine.action_mask(scenario, state)[0]
    assert mask[:2, SAY:].all() and mask[:2, 3:5].all()
    assert not mask[2, SAY:].any() and mask[2, 3:5].all()
    # agent_0 knows the parity (red or yellow), agent_1 the pair (red or blue)
    assert state.extra["clue"][0].tolist() == [0b101, 0b011, 0b111]


def test_a_lost_round_freezes_everyone_until_time_runs_out(tmp_path: Path) -> None:
    scenario, state = build(tmp_path, "0.1%!", RED, max_cycles=4)
    step(scenario, state, ".e")
    mask = engine.action_mask(scenario, state)[0]
    assert mask.tolist() == [[1] + [0] * 8] * 2  # noop only
    rewards, terminated, truncated = step(scenario, state, "..")
    assert ascii_map(scenario, state) == "0..1!" and not any(terminated) and not any(truncated)
    step(scenario, state, "..")
    rewards, terminated, truncated = step(scenario, state, "..")
    assert truncated == [True, True] and terminated == [False, False] and rewards == [0.0, 0.0]
    assert not scenario.success(np.array([terminated]))[0]


def test_lost_round_is_no_success_in_batch_mode() -> None:
    env = worlds.make_batch("signal_v0", 64, seed=0, max_cycles=8)
    obs = env.reset()
    rng = np.random.default_rng(0)
    outcomes = []
    for _ in range(8):
        mask = obs["action_mask"]
        obs, rewards, *_, infos = env.step((rng.random(mask.shape) * mask).argmax(-1))
        if infos["done"].any():
            won = infos["episode_return"][:, 0] > 0
            np.testing.assert_array_equal(infos["success"], won)
            outcomes += won.tolist()
    assert True in outcomes and False in outcomes


def test_words_are_heard_on_the_next_step_only(tmp_path: Path) -> None:
    scenario, state = build(tmp_path, "0.1!%&", BLUE)
    step(scenario, state, "B.")
    assert state.extra["message"][0].tolist() == [2, 0]
    step(scenario, state, "..")
    assert state.extra["message"][0].tolist() == [0, 0]


def test_every_view_carries_the_clue_and_the_words(tmp_path: Path) -> None:
    scenario, state = build(tmp_path, "0.1!%&", BLUE, roles="split", view_size=3)
    step(scenario, state, "YR")  # yellow and red: agent_0 says yellow, agent_1 red
    seen = views(scenario, state)[0]
    assert seen.shape == (2, 3, 3, 6)
    for i, clue in enumerate(state.extra["clue"][0].tolist()):
        assert (seen[i, ..., 3] == clue).all()
        assert (seen[i, ..., 4] == 3).all() and (seen[i, ..., 5] == 1).all()
    extra = scenario.extra_observations(state)
    assert extra["message"][0].tolist() == [[3, 1], [3, 1]]
    assert extra["clue"][0].tolist() == [[0, 1, 0, 0], [1, 1, 0, 0]]  # blue: odd; the first pair


def test_text_view_says_what_the_agent_knows_and_hears(tmp_path: Path) -> None:
    env = worlds.make_parallel("signal_v0", obs_type="text", num_landmarks=3)
    obs, _ = env.reset(seed=5)
    target = ("red", "blue", "yellow")[int(env.world.extra["target"][0])]
    assert f"You know the target is the {target} landmark." in obs["agent_0"]["text"]
    assert "You do not know which landmark is the target (red, blue, yellow)." in obs["agent_1"]["text"]
    assert "Nobody said anything last step." in obs["agent_1"]["text"]
    obs, *_ = env.step({"agent_0": env.scenario.actions.index(f"say_{target}"), "agent_1": 0})
    assert f'agent_0 says "{target}".' in obs["agent_1"]["text"]
    assert f'You said "{target}".' in obs["agent_0"]["text"]
    assert obs["agent_1"]["message"].tolist() == [1 + ("red", "blue", "yellow").index(target), 0]
    sprites = env.scenario.sprites(env.world, 0)
    assert [(s.kind, s.label, (s.row, s.col)) for s in sprites] == [
        ("bubble", target, tuple(env.world.pos[0, 0].tolist()))
    ]


def test_noise_garbles_words_from_the_world_seed() -> None:
    said = np.zeros((2000, 2), dtype=np.int64)
    said[:, 0] = SAY  # the speaker says red in every world

    def heard(noise: float, seed: int = 0) -> np.ndarray:
        scenario = worlds.make_scenario("signal_v0", noise=noise)
        state = engine.reset(scenario, [np.random.default_rng(seed + b) for b in range(len(said))])
        engine.step(scenario, state, said)
        return state.extra["message"][:, 0].copy()

    assert (heard(0.0) == 1).all()
    garbled = heard(1.0)
    counts = np.bincount(garbled, minlength=5)[1:]
    assert counts.min() > 400  # a uniform draw over the 4 words
    half = heard(0.5)
    assert 0.5 * 0.75 - 0.05 < (half != 1).mean() < 0.5 * 0.75 + 0.05  # replaced, and not by red
    np.testing.assert_array_equal(heard(0.5), half)  # the same seeds, the same garbling
    assert (heard(0.5, seed=1)[:-1] == half[1:]).all()  # world b's draws follow its own seed


def test_procedural_rooms_keep_every_landmark_reachable() -> None:
    scenario = worlds.make_scenario("signal_v0", size=5, num_landmarks=4, num_agents=4)
    state = engine.reset(scenario, [np.random.default_rng(s) for s in range(50)])
    cells = state.cells()
    for b in range(50):
        marks = np.argwhere(cells[b] >= 17)
        assert len(marks) == 4 and (marks % 2 == 1).all()  # odd row and column: never side by side
        assert sorted(cells[b][tuple(marks.T)].tolist()) == [17, 18, 19, 20]
        assert not (cells[b][tuple(state.pos[b].T)] >= 17).any()  # nobody starts on a landmark
    assert set(state.extra["target"].tolist()) == {0, 1, 2, 3}


# (config, the option the message must name)
BAD = [
    ({"num_agents": 1}, "num_agents"),
    ({"roles": "boss"}, "roles"),
    ({"num_landmarks": 1}, "num_landmarks"),
    ({"num_landmarks": 5}, "num_landmarks"),
    ({"roles": "split", "num_landmarks": 2}, "num_landmarks"),
    ({"vocab": 2}, "vocab"),
    ({"vocab": 9}, "vocab"),
    ({"noise": -0.1}, "noise"),
    ({"noise": 1.5}, "noise"),
    ({"noise": "high"}, "noise"),
    ({"size": 4}, "size"),
    ({"size": 16}, "size"),
    ({"size": 5, "num_agents": 10, "num_landmarks": 4}, "size"),
]


@pytest.mark.parametrize(("config", "option"), BAD, ids=[str(c) for c, _ in BAD])
def test_bad_config_names_the_option(config: dict, option: str) -> None:
    with pytest.raises(ValueError, match=option):
        worlds.make_scenario("signal_v0", **config)


def test_maps_need_two_colours_and_words_for_them(tmp_path: Path) -> None:
    one = tmp_path / "one.txt"
    one.write_text("0.1!!\n", encoding="utf-8")
    with pytest.raises(MapError, match="two colours"):
        worlds.make_scenario("signal_v0", map=str(one))
    violet = tmp_path / "violet.txt"
    violet.write_text("0.1!*\n", encoding="utf-8")
    with pytest.raises(ValueError, match="vocab"):
        worlds.make_scenario("signal_v0", map=str(violet), num_landmarks=2, vocab=3)


def test_shipped_map_plays() -> None:
    env = worlds.make_parallel("signal_v0", map="signal_plaza")
    obs, _ = env.reset(seed=0)
    colours = set((env.world.cells()[0][env.world.cells()[0] >= 17] - 17).tolist())
    assert len(colours) >= 3 and int(env.world.extra["target"][0]) in colours


def test_task_family_splits_are_disjoint_and_valid() -> None:
    rng = np.random.default_rng(0)
    seen = {}
    for split in ("train", "test"):
        seen[split] = set()
        for _ in range(1000):
            config, difficulty = task_family(rng, split)
            worlds.make_scenario("signal_v0", **config)
            assert difficulty >= 0
            seen[split].add(tuple(sorted(config.items())))
    assert not seen["train"] & seen["test"]
    assert len(seen["train"]) + len(seen["test"]) == len(_TASK_KNOBS)
    for key in ("roles", "num_landmarks", "noise", "size"):  # every knob value in both splits
        values = [{dict(c)[key] for c in seen[split]} for split in ("train", "test")]
        assert values[0] == values[1], key
    with pytest.raises(ValueError, match="split"):
        task_family(rng, "val")


def test_approach_bonus_pays_each_cell_towards_the_target() -> None:
    env = worlds.make_batch("signal_v0", 1, seed=0, approach_bonus=0.1)
    env.reset()
    world, x = env.world, env.world.extra
    target = np.argwhere(world.cells()[0] == LANDMARK + x["target"][0])[0]
    before = np.abs(world.pos[0, 1] - target).sum()
    mask = env._mask[0, 1]
    moves = [m for m in range(1, 5) if mask[m]]
    gains = {}
    for m in moves:  # each legal move from the same start, on a copy of the world
        trial = worlds.make_batch("signal_v0", 1, seed=0, approach_bonus=0.1)
        trial.reset()
        actions = np.zeros((1, trial.num_agents), np.int64)
        actions[0, 1] = m
        _, rewards, *_ = trial.step(actions)
        after = np.abs(trial.world.pos[0, 1] - target).sum()
        gains[m] = (rewards[0, 1], before - after, trial.world.extra["lost"][0])
    for reward, gained, lost in gains.values():
        if lost:  # onto a wrong landmark: the round is lost, and no walker is paid any more
            assert reward == 0.0
        elif reward < 0.5:  # not a win
            assert reward == pytest.approx(0.1 * gained, abs=1e-6)
    assert {g for _, g, lost in gains.values() if not lost} & {1, -1}
