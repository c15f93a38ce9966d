"""Plasticity over a curriculum: the learning-speed and Continual World metrics by hand, each
remedy wired into a real curriculum, and methods compared across calls."""

from __future__ import annotations

import json

import pytest
import torch

from arena.cli import main
from arena.training.curriculum import Curriculum, parse_curriculum
from arena.training.plasticity import continual_world, learning_speed, speed_ratio

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = {"hidden": 16, "rollout": 4, "epochs": 1, "minibatches": 1}


def test_learning_speed_of_known_records():
    records = [
        {"kind": "task", "task": "a", "step": 0},
        {"kind": "train", "task": "a", "step": 10, "success": None},  # no episode yet: counts 0
        {"kind": "train", "task": "a", "step": 20, "success": 0.9},
        {"kind": "task", "task": "b", "step": 20},
        {"kind": "train", "task": "b", "step": 30, "success": 0.5},
        {"kind": "train", "task": "b", "step": 40, "success": 0.7},
        {"kind": "matrix", "task": "a", "step": 40, "success": 1.0},  # not training: ignored
    ]
    speed = learning_speed(records, ["a", "b"], threshold=0.8)
    assert speed["auc"] == pytest.approx([0.45, 0.6])
    assert speed["steps_to"] == [20, None]  # a: 20 steps into its task; b: never
    assert speed["speed_ratio"] == pytest.approx(0.6 / 0.45)


def test_speed_ratio_takes_quarters():
    auc = [0.8, 0.6, 0.5, 0.5, 0.5, 0.5, 0.2, 0.4]  # quarters of 2 tasks
    assert speed_ratio(auc) == pytest.approx(0.3 / 0.7)
    assert speed_ratio([0.5]) is None and speed_ratio([0.0, 0.5]) is None


def test_continual_world_metrics_by_hand():
    R = [[0.9, 0.1], [0.6, 0.8]]
    cw = continual_world(R, auc=[0.5, 0.7], reference=[0.5, 0.4])
    assert cw["average_performance"] == pytest.approx(0.7)
    assert cw["forgetting"] == pytest.approx(0.3)  # R[0, 0] - R[1, 0]
    # task 0: (0.5 - 0.5) / 0.5 = 0; task 1: (0.7 - 0.4) / 0.6 = 0.5
    assert cw["forward_transfer"] == pytest.approx(0.25)
    assert continual_world(R)["forward_transfer"] is None


def tiny(method: str, tmp_path, **hyper) -> Curriculum:
    tasks = parse_curriculum("tasks:maze:2:max_cycles=6")
    return Curriculum(tasks, method, tmp_path, steps_per_task=8, worlds=2, hyper=TINY | hyper,
                      eval_worlds=2, device="cpu", quiet=True)  # fmt: skip


def net_weights(learner) -> dict:
    return {k: v.clone() for k, v in learner.net.state_dict().items()}


def test_each_remedy_acts_on_the_curriculum_learner(tmp_path):
    c = tiny("shrink_perturb", tmp_path, sp_shrink=0.5, sp_noise=0.0)
    before = net_weights(c.learner)
    assert c.remedy.before_task(1, c.learner) is c.learner
    assert all(torch.equal(v, 0.5 * before[k]) for k, v in c.learner.net.state_dict().items())

    c = tiny("reset", tmp_path, reset_layers=1)
    before, fresh = net_weights(c.learner), net_weights(c.new_learner(1001))
    c.remedy.before_task(1, c.learner)
    for key, value in c.learner.net.state_dict().items():
        assert torch.equal(value, fresh[key] if key.startswith(("policy", "value")) else before[key])

    c = tiny("scratch", tmp_path)
    other = c.remedy.before_task(3, c.learner)
    assert other is not c.learner and torch.equal(
        other.net.policy.weight, c.new_learner(1003).net.policy.weight
    )

    c = tiny("l2_init", tmp_path, l2_init=1.0)
    start = net_weights(c.learner)
    with torch.no_grad():
        c.learner.net.value.bias.fill_(1.0)
    c.learner.optimizer.zero_grad()
    c.learner.optimizer.step()  # only the attached regularizer's gradient: back towards the start
    assert 0 < c.learner.net.value.bias.item() < 1.0
    assert torch.equal(c.learner.net.policy.weight, start["policy.weight"])  # at its start: no pull

    with pytest.raises(ValueError, match="sp_shrink"):
        tiny("shrink_perturb", tmp_path, sp_shrink=2)


@pytest.mark.slow
def test_methods_run_in_separate_calls_share_one_table(tmp_path, capsys):
    out = str(tmp_path / "run")
    hp = [f"--hp={k}={v}" for k, v in TINY.items()]
    common = ["train", "--curriculum", "tasks:maze:2:max_cycles=6", "--steps-per-task", "8", "--worlds", "2",
              "--eval-worlds", "2", "--out", out, "--quiet", *hp]  # fmt: skip
    assert main([*common, "--continual", "scratch"]) == 0
    assert main([*common, "--continual", "none,reset", "--hp", "reset_layers=2"]) == 0
    summary = json.loads((tmp_path / "run" / "curriculum.json").read_text())
    assert list(summary["methods"]) == ["scratch", "none", "reset"]
    for result in summary["methods"].values():
        p, cw = result["plasticity"], result["continual_world"]
        assert len(p["auc"]) == 2 and all(0 <= a <= 1 for a in p["auc"])
        assert cw["average_performance"] == pytest.approx(result["metrics_success"]["acc"])
        assert cw["forward_transfer"] is not None  # scratch, from the first call, is the reference
    assert summary["methods"]["scratch"]["continual_world"]["forward_transfer"] == pytest.approx(0.0)
    assert (tmp_path / "run" / "learning_speed.png").is_file()
    # another task list: the earlier methods are not mixed in
    assert main([*common[:2], "tasks:maze:3:max_cycles=6", *common[3:], "--continual", "none"]) == 0
    assert list(json.loads((tmp_path / "run" / "curriculum.json").read_text())["methods"]) == ["none"]
