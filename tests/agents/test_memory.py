"""The last-move memory: the engine keeps each agent's last move, learners draw it into views."""

from __future__ import annotations

import numpy as np
import pytest

import worlds
from agents.base import Observations
from agents.checkpoint import load_learner, make_learner
from agents.memory import with_memory
from worlds.scenario import DELTAS

OPEN = worlds.make_scenario("maze_v0", style="open", size=7, num_agents=2, max_cycles=50)


def _batch(scenario, seed=0, worlds_=3):
    env = worlds.BatchEnv(scenario, worlds_, seed)
    return env, env.reset()


def test_last_move_is_the_last_move_that_happened():
    env, raw = _batch(OPEN)
    assert (env.world.last_move == 0).all()  # nothing moved yet
    rng = np.random.default_rng(1)
    expected = np.zeros_like(env.world.last_move)
    for _ in range(40):
        actions = (rng.random(raw["action_mask"].shape) * raw["action_mask"]).argmax(-1)
        before = env.world.pos.copy()
        raw, _, _, _, info = env.step(actions)
        moved = info["events"]["moved"]
        expected = np.where(moved, actions, expected)
        expected[info["done"]] = 0  # a fresh episode forgets
        assert np.array_equal(env.world.last_move, expected)
        # where it moved, the new position is the old one plus the move's delta
        keep = moved & ~info["done"][:, None]
        delta = DELTAS[actions]
        assert np.array_equal(env.world.pos[keep], (before + delta)[keep])


def test_a_noop_keeps_the_last_move():
    env, raw = _batch(OPEN, worlds_=1)
    mask = raw["action_mask"][0]
    move = int(np.flatnonzero(mask[0][1:5])[0]) + 1
    env.step(np.array([[move, 0]]))
    env.step(np.array([[0, 0]]))
    assert env.world.last_move[0].tolist() == [move, 0]


def test_memory_marks_the_cell_behind_the_agent():
    env, raw = _batch(OPEN, worlds_=2)
    state = env.world
    state.last_move[:] = [[1, 0], [4, 3]]  # north, nothing; west, east
    obs = Observations.of_batch(OPEN, state, raw, [0, 1])
    view = with_memory(obs, "last_move")
    assert view.shape == (4, 7, 7, 4)
    assert np.array_equal(view[..., :3], obs.view)
    marks = [tuple(map(tuple, np.argwhere(v[..., 3]).tolist())) for v in view]
    # north: the cell south of the centre (3, 3); west: east of it; east: west of it
    assert marks == [((4, 3),), (), ((3, 4),), ((3, 2),)]
    assert with_memory(obs, "none") is obs.view


def test_ppo_acts_on_its_memory():
    """Same views, different last moves: the policy's input, and so its probabilities, differ."""
    learner = make_learner("ppo", OPEN, "cpu", seed=0)
    env, raw = _batch(OPEN, worlds_=1)
    obs = Observations.of_batch(OPEN, env.world, raw, [0])
    learner.act(obs)
    first = learner.thinking().values.copy()
    env.world.last_move[0, 0] = 2
    learner.act(obs)
    assert not np.allclose(first, learner.thinking().values, equal_nan=True)


def test_unknown_memory_fails():
    with pytest.raises(ValueError, match="memory must be one of"):
        make_learner("ppo", OPEN, "cpu", memory="trail")


def test_checkpoints_without_memory_load_without_it(tmp_path):
    """A checkpoint saved before the memory option (no `memory` in its hyper) loads as "none"."""
    import json

    from safetensors.torch import load_file, save_file

    learner = make_learner("ppo", OPEN, "cpu", seed=0, memory="none")
    path = learner.save(tmp_path / "old.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    config = json.loads(meta["config"])
    del config["hyper"]["memory"]
    meta["config"] = json.dumps(config)
    del meta["meta_sha256"]  # files of that time had no metadata checksum
    save_file(load_file(path), path, metadata=meta)
    assert load_learner(path, "cpu").hyper["memory"] == "none"
