"""Rollout workers (`arena train --workers N`, worker processes on this machine): the learners
get the same steps, samples and updates as in one process, a run learns, resumes exactly, and
the PPO learner takes a worker's forward pass instead of redoing it. On Ray: tests/arena/test_ray.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import worlds
from agents.base import Observations, Transition
from agents.checkpoint import make_learner
from arena.cli import main
from arena.training.run import CHECKPOINT, Run, TrainConfig
from worlds.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_thread")

MAZE = "maze_v0:size=5:max_cycles=20"
PPO = {"rollout": 8, "epochs": 2, "minibatches": 2, "hidden": 32}


def config(**overrides) -> TrainConfig:
    base = dict(
        scenario=MAZE, teams={"agents": "ppo"}, hyper=PPO, worlds=4, steps=4 * 40,
        log_every=4 * 8, eval_every=0, checkpoint_every=4 * 16, eval_worlds=3,
    )  # fmt: skip
    return TrainConfig(**(base | overrides))


def train_records(folder) -> list[dict]:
    records = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] == "train"]


def test_workers_feed_the_learner_the_same_steps_and_updates_as_one_process(tmp_path):
    seen = {}
    for workers in (0, 1, 2):
        out = tmp_path / f"w{workers}"
        run = Run(config(workers=workers, steps=4 * 24), out, quiet=True)
        summary = run.run()
        learner = run.seats[0].controller
        updates = [r for r in train_records(out) if "agents/policy_loss" in r]
        shapes = {k: tuple(v.shape) for k, v in load_file(out / "agents.safetensors").items()}
        seen[workers] = (summary["steps"], learner.steps, learner.samples, len(updates), shapes)
    # 96 env steps = 24 steps of 4 worlds: 24 learn() calls of 4 rows, an update every 8
    assert seen[0][:4] == (96, 24, 96, 3)
    assert seen[1] == seen[0] and seen[2] == seen[0]


@pytest.mark.slow
def test_a_run_with_two_workers_learns_a_small_maze(tmp_path):
    cfg = TrainConfig(
        scenario="maze_v0:size=5:max_cycles=12", hyper={"rollout": 16, "hidden": 64, "memory": "none"},
        worlds=32, steps=32 * 100, eval_every=0, checkpoint_every=0, eval_worlds=100, workers=2,
    )  # fmt: skip
    run = Run(cfg, tmp_path, quiet=True)
    before = run.evaluate()["success"]  # the untrained policy: about random play
    summary = run.run()
    assert summary["steps"] == 3200 and run.seats[0].controller.samples == 3200
    assert summary["eval_success"] >= before + 0.15, (before, summary["eval_success"])


class Stop(Exception):
    """Raised from a run's callback: the run dies as if killed."""


@pytest.mark.slow
def test_a_run_with_workers_resumes_exactly(tmp_path):
    # hunters learn with PPO, runners are the planner (its generator is reseeded each fragment)
    cfg = config(
        scenario="tag_v0:size=7:max_cycles=15", teams={"hunters": "ppo", "runners": "planner"},
        hyper={f"hunters.{k}": v for k, v in PPO.items()}, workers=2,
    )  # fmt: skip
    Run(cfg, tmp_path / "whole", quiet=True).run()

    def stop(run):
        if run.step >= 4 * 24:
            raise Stop

    with pytest.raises(Stop):
        Run(cfg, tmp_path / "killed", quiet=True).run(stop)
    resumed = Run(None, tmp_path / "killed", resume=True, quiet=True)
    assert resumed.step == 4 * 16
    resumed.run()
    for name in (CHECKPOINT, "hunters.safetensors"):
        whole, again = load_file(tmp_path / "whole" / name), load_file(tmp_path / "killed" / name)
        assert whole.keys() == again.keys()
        for key in whole:
            assert torch.equal(whole[key], again[key]), f"{name}: {key} differs after resume"


def test_ppo_takes_a_copys_forward_pass_instead_of_redoing_it():
    maze = worlds.make_scenario("maze_v0", size=5, max_cycles=12)
    learner = make_learner("ppo", maze, "cpu", seed=0, **PPO)
    copy = make_learner("ppo", maze, "cpu", seed=1, **PPO)
    copy.load_state(*learner.state(buffers=False))
    env = worlds.BatchEnv(maze, 4, 0)
    first = env.reset()
    obs = Observations.of_batch(maze, env.world, first, [0])
    actions = copy.act(obs)
    n = len(obs)
    zeros = np.zeros(n, bool)
    tr = Transition(obs, actions, np.zeros(n, np.float32), zeros, zeros, obs, ~zeros)
    alone = make_learner("ppo", maze, "cpu", seed=0, **PPO)
    alone.learn(tr)  # evaluates the rows itself
    tr.behaviour = copy.behaviour()
    learner.learn(tr)
    for key in ("view", "logp_all", "value", "action", "legal"):
        assert torch.allclose(learner.buffer[key].float(), alone.buffer[key].float(), atol=1e-6), key


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--workers", "5", "--worlds", "4"], "workers must be between 0 and worlds (4)"),
        (["--workers", "2", "--self-play"], "--workers does not combine with --self-play"),
        (["--ray"], "--ray puts rollout workers on a Ray cluster: give --workers N too"),
        (["--workers", "2", "--team", "agents=human"], "cannot be copied to rollout workers"),
    ],
)
def test_bad_worker_options_are_named(argv, message, tmp_path, capsys):
    scenario = "tag_v0" if "--self-play" in argv else "maze_v0"
    code = main(["train", scenario, "--steps", "8", "--out", str(tmp_path / "run"), "--quiet", *argv])
    assert code != 0 and message in capsys.readouterr().err


def test_config_rejects_a_negative_worker_count():
    with pytest.raises(ConfigError, match="workers must be between 0 and worlds"):
        TrainConfig(workers=-1)
