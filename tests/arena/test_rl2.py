"""RL^2 (`arena.meta.rl2`): meta-episodes of several trials of one task, the core state reset
only at a task's start, the returns running across trials, adaptation on the given task alone,
and a small fixed-seed run that reproduces itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from agents.checkpoint import load_learner, read_checkpoint
from arena.meta.rl2 import TrialWorlds, adapt_rl2, by_trial, hide_compass, split_hp, train_rl2
from worlds.errors import ConfigError
from worlds.tasks import Task

pytestmark = pytest.mark.usefixtures("one_thread")

HP = {"task.num_agents": 1, "task.max_cycles": 10, "hidden": 16, "rollout": 16, "groups": 2}


def map_task(text: str, max_cycles: int = 8) -> Task:
    """A one-level maze task from a map (its text), as `worlds.tasks` would hand one out."""
    config = {"map": text, "max_cycles": max_cycles, "layout_seed": 1}
    return Task("maze", "maze_v0", config, "test", 1, 0.0, "maze-map@1")


NEXT_DOOR = "#####\n#0G.#\n#####\n"  # the goal one step east
WALLED = "#####\n#0#G#\n#####\n"  # the goal out of reach


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run of 256 steps, on one torch thread as the tests after it (set here: a module
    fixture starts before the tests' `one_thread`, and the thread count changes float sums)."""
    out = tmp_path_factory.mktemp("rl2")
    logs: list[str] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        path = train_rl2("maze", 256, out, seed=3, trials=2, worlds=4, hp=HP, log=logs.append)
    finally:
        torch.set_num_threads(threads)
    return path, logs


def test_a_small_fixed_seed_run_writes_its_policy_and_reproduces_itself(trained, tmp_path):
    path, logs = trained
    assert path.name == "rl2.safetensors" and len(logs) == 2  # rounds of 32 steps (2 x 10, in rollouts of 16)
    assert all("success by trial" in line for line in logs)
    config = read_checkpoint(path)[0]
    assert config["rl2"]["trials"] == 2 and config["rl2"]["task"] == {"num_agents": 1, "max_cycles": 10}
    assert config["hyper"]["core"] == "gru" and config["hyper"]["context"] == "rl2"
    again = train_rl2("maze", 256, tmp_path / "again.safetensors", seed=3, trials=2, worlds=4, hp=HP, log=str)
    first, second = load_file(path), load_file(again)
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    other = train_rl2("maze", 256, tmp_path / "other.safetensors", seed=4, trials=2, worlds=4, hp=HP, log=str)
    assert not torch.equal(first["net.policy.weight"], load_file(other)["net.policy.weight"])


def test_adaptation_plays_the_given_task_alone(trained):
    path, _ = trained
    before = load_file(path)
    assert adapt_rl2(path, map_task(WALLED), trials=3, episodes=8) == [0.0, 0.0, 0.0]
    near = adapt_rl2(path, map_task(NEXT_DOOR), trials=3, episodes=8, seed=5)
    assert len(near) == 3 and min(near) > 0.5  # a corridor of 3 cells: found within 8 steps
    assert near == adapt_rl2(path, map_task(NEXT_DOOR), trials=3, episodes=8, seed=5)
    after = load_file(path)
    assert all(torch.equal(before[k], after[k]) for k in before)  # no weight update
    learner = load_learner(path, "cpu")
    assert learner.hidden is None  # and none of its own memory kept between calls


def test_trials_share_a_meta_episode_and_only_its_end_terminates():
    """Two trials per meta-episode: the state starts afresh only at the first trial, the
    trial-start flag marks both, and a row terminates only when its second trial ends."""
    play = TrialWorlds([map_task(NEXT_DOOR, max_cycles=4)], 3, 2, 0, split_hp({})[0], {}, 5)
    rng = np.random.default_rng(0)
    expect, ends = np.ones(3, bool), np.zeros(3, int)  # one agent: row b is world b
    actions, reward = np.zeros(3, np.int64), np.zeros(3)
    for _ in range(40):
        rows, starts, context = play.observe()
        trial_start = context[:, 6] == 1
        assert np.array_equal(trial_start, play.envs[0].world.t[rows.world] == 0)
        assert np.array_equal(starts, expect)
        # the previous action (one-hot) and reward are those of the step before
        assert np.array_equal(context[~starts, :5].argmax(1), actions[~starts])
        assert np.array_equal(context[~starts, 5], reward[~starts])
        assert (context[starts, :6] == 0).all()
        actions = np.where(rows.action_mask[:, 3], 3, rng.integers(0, 5, 3))  # east when it can
        done_before = len(play.finished)
        tr = play.step(actions)
        reward = tr.reward
        expect = np.zeros(3, bool)
        for world, trial, _, _ in play.finished[done_before:]:
            assert tr.terminated[world] == (trial == 1)
            expect[world] = trial == 1
            ends[world] += trial == 1
        assert not tr.truncated.any()
    assert (ends >= 2).all()
    assert by_trial([(0, 0, True, 3), (1, 0, False, 4), (0, 1, True, 2)], 3)[:2] == [0.5, 1.0]


def test_the_compass_is_hidden_and_settings_are_checked():
    view = np.zeros((1, 3, 3, 3), np.uint8)
    view[0, 0, 1, 2], view[0, 2, 2, 2] = 2, 1  # a compass mark and the goal in sight
    hidden = hide_compass(view)
    assert hidden[0, 0, 1, 2] == 0 and hidden[0, 2, 2, 2] == 1 and view[0, 0, 1, 2] == 2
    settings, overrides, learner = split_hp({"groups": 2, "task.max_cycles": 30, "lr": 1e-3})
    assert settings == {"groups": 2, "compass": False} and overrides == {"max_cycles": 30}
    assert learner["lr"] == 1e-3 and learner["core"] == "gru"
    for bad, word in (
        ({"groups": 0}, "groups"),
        ({"memory": "last_move"}, "memory"),
        ({"compass": 1}, "compass"),
    ):
        with pytest.raises(ConfigError, match=word):
            split_hp(bad)
    with pytest.raises(ConfigError, match="multiple of groups"):
        train_rl2("maze", 10, "unused", worlds=3, hp={"groups": 2})
