"""Checkpoints: a file alone rebuilds its learner exactly, a resumed learner continues as if
never stopped, writes are atomic, and broken or mismatched files fail with a clear error."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from learning_loop import train
from safetensors.torch import load_file, save_file

import worlds
from agents.base import Observations
from agents.checkpoint import (
    ALGOS,
    deterministic,
    make_learner,
    pick_device,
    read_checkpoint,
)
from agents.registry import load_controller, make_controller

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {
    "tabular_q": {},
    "dqn": {"learning_starts": 32, "batch_size": 16, "buffer_size": 300, "hidden": 32, "target_every": 5},
    "reinforce": {"rollout": 5, "hidden": 32},
    "a2c": {"rollout": 5, "hidden": 32},
    "ppo": {"rollout": 5, "hidden": 32, "minibatches": 2, "epochs": 2},
}
MAZE = worlds.make_scenario("maze_v0", size=5, max_cycles=12)


def learner(algo, scenario=MAZE, **hyper):
    return make_learner(algo, scenario, "cpu", seed=1, **(SMALL[algo] | hyper))


def rows(scenario=MAZE, num_worlds=16, seed=7) -> Observations:
    env = worlds.BatchEnv(scenario, num_worlds, seed)
    raw = env.reset()
    return Observations.of_batch(scenario, env.world, raw, range(scenario.num_agents))


def same_state(a, b) -> bool:
    (ta, ea), (tb, eb) = a.state(), b.state()
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta) and ea == eb


@pytest.mark.parametrize("algo", ALGOS)
def test_a_checkpoint_alone_rebuilds_its_learner(algo, tmp_path):
    agent = learner(algo)
    train(agent, MAZE, 23, num_worlds=4)
    path = agent.save(tmp_path / "agent.safetensors")
    loaded = load_controller(path, device="cpu")
    assert type(loaded) is type(agent) and loaded.name == algo
    assert loaded.config == agent.config
    assert same_state(agent, loaded)
    obs = rows()
    assert np.array_equal(agent.act(obs, explore=False), loaded.act(obs, explore=False))
    assert np.array_equal(agent.thinking().values, loaded.thinking().values, equal_nan=True)
    config = read_checkpoint(path)[0]
    assert config["scenario"] == {"name": "maze_v0", "config": dataclasses.asdict(MAZE)}
    assert config["hyper"] == agent.hyper and config["seed"] == 1 and config["num_actions"] == 5


@pytest.mark.parametrize("algo", ALGOS)
def test_a_resumed_learner_continues_exactly(algo, tmp_path):
    """Stopped mid-rollout (mid n-step window, replay half full) and resumed from its file, a
    learner ends with the same weights, buffers and random state as one never stopped."""
    straight = learner(algo)
    train(straight, MAZE, 23, num_worlds=4, seed=0)
    straight.save(tmp_path / "mid.safetensors")
    train(straight, MAZE, 17, num_worlds=4, seed=100)
    resumed = load_controller(tmp_path / "mid.safetensors", device="cpu")
    train(resumed, MAZE, 17, num_worlds=4, seed=100)
    assert same_state(straight, resumed)


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
@pytest.mark.parametrize("method", ["replay", "ewc"])
def test_continual_state_survives_a_checkpoint(algo, method, tmp_path):
    agent = learner(algo, continual=method, replay_size=50, ewc_samples=8)
    train(agent, MAZE, 40, num_worlds=4)
    agent.end_task("first")
    train(agent, MAZE, 12, num_worlds=4, seed=3)
    loaded = load_controller(agent.save(tmp_path / "c.safetensors"), device="cpu")
    assert loaded.tasks == ["first"]
    assert same_state(agent, loaded)
    train(agent, MAZE, 11, num_worlds=4, seed=9)
    train(loaded, MAZE, 11, num_worlds=4, seed=9)
    assert same_state(agent, loaded)


def test_without_buffers_the_file_is_small_and_still_acts(tmp_path):
    agent = learner("dqn", buffer_size=5000)
    train(agent, MAZE, 60, num_worlds=8)
    full = agent.save(tmp_path / "full.safetensors")
    lean = agent.save(tmp_path / "lean.safetensors", buffers=False)
    assert "replay.view" in read_checkpoint(full)[1] and "replay.view" not in read_checkpoint(lean)[1]
    assert lean.stat().st_size < full.stat().st_size - 480 * 2 * 7 * 7 * 3  # views and next views
    loaded = load_controller(lean, device="cpu")
    assert len(loaded.replay) == 0
    obs = rows()
    assert np.array_equal(agent.act(obs, explore=False), loaded.act(obs, explore=False))


def test_a_checkpoint_plays_in_a_seat_of_a_pettingzoo_env(tmp_path):
    path = learner("ppo").save(tmp_path / "seat.safetensors")
    seat = make_controller(str(path), MAZE, device="cpu")
    env = worlds.make_parallel("maze_v0", size=5, max_cycles=12)
    obs, _ = env.reset(seed=0)
    while env.agents:
        rows_ = Observations.of_env(env, obs, env.agents)
        actions = seat.act(rows_, explore=False)
        assert rows_.action_mask[np.arange(len(actions)), actions].all()
        obs, *_ = env.step(dict(zip(env.agents, actions.tolist(), strict=True)))
    assert seat.thinking().kind == "probs"


def test_saving_is_atomic(tmp_path, monkeypatch):
    agent = learner("ppo")
    path = agent.save(tmp_path / "a.safetensors")
    before = path.read_bytes()
    import safetensors.torch

    def crash(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", crash)
    train(agent, MAZE, 10, num_worlds=4)
    from worlds.errors import SaveError

    with pytest.raises(SaveError, match=r"a\.safetensors: could not write the file \(disk full\)"):
        agent.save(path)
    assert path.read_bytes() == before  # the old checkpoint is intact
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]  # no temporary left behind


# -- broken and mismatched files ---------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    agent = learner("ppo")
    train(agent, MAZE, 7, num_worlds=4)
    return agent.save(tmp_path / "ok.safetensors")


def rewrite(path, tensors=None, **meta):
    """Save the checkpoint again with some tensors or metadata changed (None removes a key)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        metadata = f.metadata()
    metadata = {k: v for k, v in (metadata | meta).items() if v is not None}
    if "meta_sha256" in metadata:  # a consistent edit: only the checks behind the checksum see it
        from agents.learner import metadata_digest

        metadata["meta_sha256"] = metadata_digest(metadata)
    save_file(tensors if tensors is not None else load_file(path), path, metadata=metadata)


def test_a_truncated_file_fails_clearly(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"ok\.safetensors: not a readable safetensors checkpoint"):
        load_controller(saved)


def test_garbage_fails_clearly(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ValueError, match="noise.safetensors: not a readable safetensors checkpoint"):
        load_controller(path)
    with pytest.raises(ValueError, match="missing.safetensors: no such checkpoint file"):
        load_controller(tmp_path / "missing.safetensors")


def test_flipped_bytes_fail_the_checksum(saved):
    data = bytearray(saved.read_bytes())
    data[-100] ^= 0xFF  # inside the last tensor's data: safetensors itself cannot tell
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="ok.safetensors: corrupt checkpoint"):
        load_controller(saved)


def test_other_formats_and_versions_fail_clearly(saved, tmp_path):
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match=r"other.safetensors: not a grid-arena checkpoint \(format None\)"):
        load_controller(other)
    rewrite(saved, version="2")
    with pytest.raises(ValueError, match="checkpoint version '2', this code reads '1'"):
        load_controller(saved)


def test_damaged_or_mismatched_contents_fail_clearly(saved):
    from agents.learner import digest

    tensors = load_file(saved)
    config = read_checkpoint(saved)[0]
    config["hyper"]["hidden"] = 64  # the weights no longer fit the net the config builds
    rewrite(saved, config=json.dumps(config), sha256=digest(tensors))
    with pytest.raises(ValueError, match="ok.safetensors: checkpoint does not rebuild its ppo learner"):
        load_controller(saved)
    config["hyper"]["hidden"] = 32
    config["scenario"]["name"] = "soccer_v0"
    rewrite(saved, config=json.dumps(config))
    with pytest.raises(ValueError, match="unknown scenario 'soccer_v0'"):
        load_controller(saved)
    del tensors["net.policy.weight"]
    config["scenario"]["name"] = "maze_v0"
    rewrite(saved, tensors, config=json.dumps(config), sha256=digest(tensors))
    with pytest.raises(ValueError, match="(?s)does not rebuild its ppo learner.*policy.weight"):
        load_controller(saved)


def test_a_checkpoint_for_another_scenario_is_refused_for_a_seat(saved):
    tag = worlds.make_scenario("tag_v0")
    with pytest.raises(ValueError, match=r"trained on maze_v0 with views \(7, 7, 3\) and 5 actions; tag_v0"):
        load_controller(saved, scenario=tag)
    wide = worlds.make_scenario("maze_v0", view_size=9)
    with pytest.raises(ValueError, match="tag_v0|maze_v0 has views"):
        load_controller(saved, scenario=wide)
    assert load_controller(saved, scenario=worlds.make_scenario("plates_v0")).name == "ppo"


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be one of"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
            pick_device("cuda")


def test_deterministic_kernels_hold_inside_the_block_only():
    before = torch.are_deterministic_algorithms_enabled()
    with deterministic():
        assert torch.are_deterministic_algorithms_enabled()
    assert torch.are_deterministic_algorithms_enabled() == before
