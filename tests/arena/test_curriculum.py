"""Continual learning: the transfer metrics, task parsing, joint rows, and a tiny real curriculum."""

from __future__ import annotations

import json
from itertools import islice

import numpy as np
import pytest
from PIL import Image

import worlds
from agents.base import Observations
from agents.registry import load_controller
from arena.cli import main
from arena.training.curriculum import (
    TASK_COUNT,
    Curriculum,
    parse_curriculum,
    run_curriculum,
    transfer_metrics,
)
from arena.training.joint import JointObservations
from worlds.batch import BatchEnv

# R[i, j]: performance on task j after training on task i; b[j]: the untrained learner's.
R = [
    [0.9, 0.1, 0.0],
    [0.6, 0.8, 0.2],
    [0.5, 0.7, 0.9],
]
B = [0.1, 0.05, 0.1]


def test_transfer_metrics_of_a_known_matrix():
    m = transfer_metrics(R, B)
    assert m["acc"] == pytest.approx((0.5 + 0.7 + 0.9) / 3)  # mean of the last row
    assert m["bwt"] == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)  # last row minus diagonal
    assert m["fwt"] == pytest.approx(((0.1 - 0.05) + (0.2 - 0.1)) / 2)  # R[i-1, i] - b[i]
    # forgetting: the best earlier performance on each old task minus the final one
    assert m["forgetting"] == pytest.approx(((0.9 - 0.5) + (0.8 - 0.7)) / 2)


def test_forgetting_takes_the_best_earlier_row_not_the_diagonal():
    late_peak = [[0.2, 0.0], [0.9, 0.7]]  # task 0 got better while training task 1
    m = transfer_metrics(late_peak)
    assert m["bwt"] == pytest.approx(0.7) and m["forgetting"] == pytest.approx(0.2 - 0.9)
    assert m["fwt"] is None  # no baseline


def test_transfer_metrics_edge_cases():
    assert transfer_metrics([[0.4]], [0.1]) == {"acc": 0.4, "bwt": None, "fwt": None, "forgetting": None}
    with pytest.raises(ValueError, match="square"):
        transfer_metrics([[0.1, 0.2]])


def test_parse_curriculum_with_variations_and_errors():
    tasks = parse_curriculum("maze_v0, maze_v0:size=7:style=rooms ,tag_v0")
    assert [t.label for t in tasks] == ["maze_v0", "maze_v0:size=7:style=rooms", "tag_v0"]
    assert tasks[1].scenario.size == 7 and tasks[1].scenario.style == "rooms"
    assert tasks[2].protagonists == [0, 1]  # the hunters
    with pytest.raises(ValueError, match="listed twice"):
        parse_curriculum("maze_v0,maze_v0")
    with pytest.raises(ValueError, match="same view_size"):
        parse_curriculum("maze_v0,tag_v0:view_size=5")
    with pytest.raises(ValueError, match="unknown scenario"):
        parse_curriculum("maze_v0,mace_v0")
    with pytest.raises(ValueError, match="no tasks"):
        parse_curriculum(" , ")


def test_parse_curriculum_expands_task_streams():
    tasks = parse_curriculum("maze_v0, tasks:maze:test:3, tasks:all:2:max_cycles=9, tasks:tag")
    stream = list(islice(worlds.tasks("maze", "test"), 3))
    assert [t.label for t in tasks[1:4]] == [t.label for t in stream]
    assert tasks[1].scenario == stream[0].make_scenario() and tasks[1].scenario.layout_seed >= 10**6
    assert [t.scenario.name for t in tasks[4:6]] == ["maze_v0", "plates_v0"]  # "all": in turn
    assert [t.scenario.max_cycles for t in tasks[4:6]] == [9, 9]
    assert len(tasks) == 1 + 3 + 2 + TASK_COUNT and tasks[-1].label.startswith("tag-")
    other = parse_curriculum("tasks:tag:seed=1")
    assert len(other) == TASK_COUNT and other[0].label != tasks[6].label
    with pytest.raises(ValueError, match="unknown task family 'mace'"):
        parse_curriculum("tasks:mace")
    with pytest.raises(ValueError, match="listed twice"):
        parse_curriculum("tasks:maze:2,tasks:maze:1")
    with pytest.raises(ValueError, match="count of tasks must be >= 1"):
        parse_curriculum("tasks:maze:0")
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_curriculum("tasks:maze:dev")


@pytest.mark.slow
def test_a_curriculum_of_generated_tasks_runs_from_the_command_line(tmp_path):
    args = ["train", "--curriculum", "tasks:all:test:2:max_cycles=8", "--continual", "none", "--quiet"]
    args += [*"--steps-per-task 8 --worlds 2 --eval-worlds 2 --hp rollout=4 --hp hidden=16".split()]
    assert main([*args, "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "curriculum.json").read_text())
    labels = [t.label for t in islice(worlds.tasks("all", "test"), 2)]
    assert saved["tasks"] == labels and np.shape(saved["methods"]["none"]["R_success"]) == (2, 2)
    assert load_controller(tmp_path / "none" / "learner.safetensors").tasks == labels


def joint_rows(*labels: str) -> tuple[JointObservations, list[Observations]]:
    parts = []
    for label in labels:
        env = BatchEnv(parse_curriculum(label)[0].scenario, 2, seed=0)
        obs = env.reset()
        parts.append(Observations.of_batch(env.scenario, env.world, obs, [0]))
    return JointObservations.of(parts), parts


def test_joint_rows_concatenate_views_and_pad_masks():
    joint, parts = joint_rows("maze_v0", "tag_v0")
    assert joint.view.shape == (4, 7, 7, 3) and joint.action_mask.shape == (4, 6)
    assert not joint.action_mask[:2, 5].any()  # maze has no 6th action: masked out
    assert np.array_equal(joint.action_mask[2:], parts[1].action_mask)
    assert np.array_equal(joint.view[2:], parts[1].view)
    assert len(joint.texts()) == 4
    assert joint.global_view().shape == (4, 9, 9, 3)  # both maps are 9x9
    joint, _ = joint_rows("maze_v0", "tag_v0:size=11")
    with pytest.raises(ValueError, match="no single global view"):
        joint.global_view()


def test_joint_rows_keep_each_part_seats_and_steps_apart():
    """An LM's prompt memory is keyed by seat: world 0 of one task is not world 0 of another,
    and each row's step is read from its own part."""
    envs = [BatchEnv(parse_curriculum(name)[0].scenario, 2, seed=0) for name in ("maze_v0", "tag_v0")]
    raws = [env.reset() for env in envs]
    raws[1] = envs[1].step(np.zeros((2, 4), np.int64))[0]  # tag one step ahead
    parts = [
        Observations.of_batch(env.scenario, env.world, raw, [0]) for env, raw in zip(envs, raws, strict=True)
    ]
    joint = JointObservations.of(parts)
    assert joint.seats() == [(0, 0, 0), (0, 1, 0), (1, 0, 0), (1, 1, 0)]
    assert joint.steps().tolist() == [0, 0, 1, 1]


PPO = {"rollout": 8, "epochs": 1, "minibatches": 2, "hidden": 32}


@pytest.mark.slow
def test_tiny_real_curriculum_writes_the_matrix_metrics_and_heatmaps(tmp_path):
    tasks = parse_curriculum("maze_v0:size=5:max_cycles=20,tag_v0:size=7:max_cycles=15")
    summary = run_curriculum(
        tasks, ["none", "joint"], tmp_path, quiet=True, algo="ppo", steps_per_task=64,
        worlds=4, seed=1, hyper=PPO, eval_worlds=3,
    )  # fmt: skip
    saved = json.loads((tmp_path / "curriculum.json").read_text())
    assert saved["tasks"] == [t.label for t in tasks] and set(saved["methods"]) == {"none", "joint"}
    for method in ("none",):
        result = saved["methods"][method]
        assert np.shape(result["R_success"]) == (2, 2) and len(result["baseline_success"]) == 2
        assert result["metrics_success"] == transfer_metrics(result["R_success"], result["baseline_success"])
        assert result["steps"] == 128
        learner = load_controller(tmp_path / method / "learner.safetensors")
        assert learner.num_actions == 6  # tag's action count, masked down to 5 in the maze
        assert learner.tasks == [t.label for t in tasks]  # end_task was called after each task
        assert learner.samples == 64 + 2 * 64  # maze: 1 agent; tag: the 2 hunters
        records = [json.loads(line) for line in (tmp_path / method / "log.jsonl").read_text().splitlines()]
        matrix = [r for r in records if r["kind"] == "matrix"]
        assert [r["after"] for r in matrix] == ["untrained"] * 2 + [tasks[0].label] * 2 + [tasks[1].label] * 2
        assert [r["success"] for r in matrix[2:]] == [v for row in result["R_success"] for v in row]
    joint = saved["methods"]["joint"]
    assert np.shape(joint["R_success"]) == (1, 2) and joint["steps"] == 128
    assert joint["metrics_success"]["acc"] == pytest.approx(np.mean(joint["R_success"][0]))
    assert load_controller(tmp_path / "joint" / "learner.safetensors").samples == 64 + 2 * 64
    for png in ("stages.png", "none/matrix.png", "joint/matrix.png", "none/learning_curves.png"):
        with Image.open(tmp_path / png) as image:
            assert image.format == "PNG"
    assert summary["methods"]["none"]["R_success"] == saved["methods"]["none"]["R_success"]


def test_curriculum_command_bad_input(capsys):
    assert main(["train", "--curriculum", "maze_v0", "--continual", "forget"]) == 2
    assert "unknown method 'forget'" in capsys.readouterr().err
    assert main(["train", "--curriculum", "maze_v0", "--resume"]) == 2
    assert "curriculum run starts over" in capsys.readouterr().err


@pytest.mark.slow
def test_an_lm_learner_runs_the_curriculum_sequential_and_joint(tmp_path, capsys):
    """`--algo lm_ppo`: the LM is built on the task with every action name (tag, listed second)."""
    tasks = "maze_v0:size=5:max_cycles=8,tag_v0:map=tag_corridor:num_agents=2:num_hunters=1:max_cycles=6"
    args = ["train", "--curriculum", tasks, "--algo", "lm_ppo", "--continual", "ewc,joint", "--quiet"]
    args += [*"--steps-per-task 16 --worlds 4 --eval-worlds 2 --hp rollout=2 epochs=1".split()]
    assert main([*args, "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "curriculum.json").read_text())
    assert np.shape(saved["methods"]["ewc"]["R_success"]) == (2, 2)
    learner = load_controller(tmp_path / "ewc" / "learner.safetensors", device="cpu")
    assert learner.name == "lm_ppo" and learner.ewc.fisher and learner.tasks == tasks.split(",")
    joint = load_controller(tmp_path / "joint" / "learner.safetensors", device="cpu")
    assert joint.samples == 16 + 16  # 2 worlds of each task x 8 steps, one learner row each


@pytest.mark.parametrize("method", ["replay", "ewc"])
def test_methods_against_forgetting_are_the_learners_own(method, tmp_path):
    tasks = parse_curriculum("maze_v0,tag_v0")
    curriculum = Curriculum(tasks, method, tmp_path, hyper={"hidden": 16}, quiet=True)
    assert curriculum.learner.hyper["continual"] == method and curriculum.learner.num_actions == 6
    assert [s.name for s in curriculum.seats(tasks[1])] == ["learner", "runners"]
    assert curriculum.seats(tasks[1])[1].spec == "random"
