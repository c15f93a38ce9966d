"""Meta-learning: Reptile's outer update by hand, the evaluation protocol's tasks (held-out
only), the `arena meta` command line end to end on tiny settings."""

from __future__ import annotations

import json
from itertools import islice

import pytest
import torch
from PIL import Image

import worlds
from arena.cli import main
from arena.meta.protocol import contender, run_protocol, summarize
from arena.meta.reptile import check_settings, reptile_step
from arena.meta.tasks import Practice, held_out_tasks
from worlds.tasks import FAMILIES, LAYOUT_SEEDS

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = {"hidden": 16, "rollout": 4, "epochs": 1, "minibatches": 1}  # a net and updates that cost nothing
SHORT = {"max_cycles": 6}  # episodes that end fast


def test_reptile_outer_update_by_hand():
    meta = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.0])}
    adapted = [
        {"w": torch.tensor([3.0, 2.0]), "b": torch.tensor([1.0])},
        {"w": torch.tensor([1.0, 6.0]), "b": torch.tensor([-3.0])},
    ]
    # mean of the adapted: w (2, 4), b -1; theta + 0.5 (mean - theta) = w (1.5, 3), b -0.5
    out = reptile_step(meta, adapted, 0.5)
    assert out["w"].tolist() == [1.5, 3.0] and out["b"].tolist() == [-0.5]
    assert reptile_step(meta, adapted, 1.0)["w"].tolist() == [2.0, 4.0]  # epsilon 1: the mean itself
    assert meta["w"].tolist() == [1.0, 2.0]  # the meta weights given are left as they were


def test_meta_settings_are_checked():
    assert check_settings({"meta_batch": 2, "lr": 0.1})["meta_batch"] == 2
    for bad in ({"meta_lr": 0}, {"meta_lr": 2}, {"inner_updates": 0}, {"meta_batch": 1.5}, {"anneal": 1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            check_settings(bad)


class Recording(Practice):
    """A real Practice that also notes every task it trains or scores on."""

    seen: list

    def train(self, learner, task, steps, seed):
        self.seen.append(task.source)
        return super().train(learner, task, steps, seed)

    def success(self, learner, task):
        self.seen.append(task.source)
        return super().success(learner, task)


def test_protocol_plays_only_held_out_tasks():
    practice = Recording("maze", "ppo", dict(TINY), dict(SHORT), worlds=2, eval_worlds=2)
    practice.seen = []
    summary = run_protocol([contender("scratch")], practice, shots=1, round_steps=8, count=3, seed=5)
    expected = list(islice(worlds.tasks("maze", "test", 5), 3))
    assert [t["label"] for t in summary["tasks"]] == [t.label for t in expected]
    assert {t.label for t in practice.seen} == {t.label for t in expected}
    assert len(practice.seen) == 3 * 3  # per task: scored, trained one round, scored
    low, high = LAYOUT_SEEDS["test"]
    train_labels = {t.label for t in islice(worlds.tasks("maze", "train", 5), 500)}
    for task in practice.seen:
        assert task.split == "test" and low <= task.seed < high
        assert task.config["max_cycles"] == 6 and task.config["layout_seed"] == task.seed
        assert task.label not in train_labels
    # and held out by combination too: each config is one only the test split draws
    held = [t for t in held_out_tasks("maze", 20)]
    assert all(
        (t.source.config["size"], t.source.config["style"]) in {(11, "rooms"), (13, "open")}
        or t.source.config.get("loops") == 0.2
        for t in held
    )
    assert len(summary["contenders"]["scratch"]["success"]) == 3  # one curve per task
    assert all(len(curve) == 2 for curve in summary["contenders"]["scratch"]["success"])  # 0 and 1 round


def test_summary_means_errors_and_speedup():
    summary = {
        "round_steps": 100, "shots": 2,
        "contenders": {
            "scratch": {"method": "scratch", "success": [[0.0, 0.4, 0.8], [0.2, 0.6, 0.8]]},
            "reptile": {"method": "reptile", "success": [[0.5, 0.9, 0.9], [0.7, 0.7, 1.0]]},
            "multitask": {"method": "multitask", "success": [[0.9, 0.9, 0.9], [0.9, 0.9, 0.9]]},
        },
    }  # fmt: skip
    out = summarize(summary)
    scratch, reptile, multi = (out["contenders"][k] for k in ("scratch", "reptile", "multitask"))
    assert scratch["mean"] == pytest.approx([0.1, 0.5, 0.8]) and out["target"] == pytest.approx(0.8)
    assert scratch["se"][0] == pytest.approx(0.1)  # std (ddof 1) 0.1414 / sqrt(2)
    assert scratch["steps_to_target"] == 200 and reptile["steps_to_target"] == 100
    assert reptile["speedup"] == pytest.approx(2.0)
    assert multi["steps_to_target"] == 0 and multi["zero_shot"] and multi["speedup"] is None


def test_meta_train_and_eval_from_the_command_line(tmp_path, capsys):
    hp = [f"--hp={k}={v}" for k, v in TINY.items()] + ["--hp=inner_updates=1", "--hp=meta_batch=2"]
    common = ["--worlds", "2", "--config", "max_cycles=6", "--quiet"]
    for method in ("reptile", "multitask"):
        code = main(["meta", "train", "maze", "--method", method, "--steps", "16", *hp, *common,
                     "--out", str(tmp_path / method)])  # fmt: skip
        assert code == 0
        meta = json.loads((tmp_path / method / "meta.json").read_text())
        assert meta["method"] == method and meta["steps"] == 16 and meta["config"] == {"max_cycles": 6}
        assert (tmp_path / method / "learner.safetensors").is_file()
        assert Image.open(tmp_path / method / "training.png").size[0] > 100
    assert main(["meta", "train", "maze", "--steps", "16", "--out", str(tmp_path / "reptile")]) == 2
    assert "already holds" in capsys.readouterr().err
    multitask = str(tmp_path / "multitask" / "learner.safetensors")
    code = main(["meta", "eval", str(tmp_path / "reptile"), multitask, "--shots", "1", "--round-steps", "4",
                 "--tasks", "2", "--worlds", "2", "--eval-worlds", "2", "--out", str(tmp_path / "eval"),
                 "--json"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert list(summary["contenders"]) == ["reptile", "multitask", "scratch"]  # scratch added
    assert summary["split"] == "test" and summary["config"] == {"max_cycles": 6}  # the run's config
    assert all(t["seed"] >= 10**6 for t in summary["tasks"])
    assert summary["contenders"]["reptile"]["meta_steps"] == 16
    assert Image.open(tmp_path / "eval" / "adaptation.png").size[0] > 100


def test_meta_command_errors(tmp_path, capsys):
    assert main(["meta", "eval", str(tmp_path), "--tasks", "1"]) == 2
    assert "meta.json" in capsys.readouterr().err
    assert main(["meta", "eval", "scratch", "--tasks", "1"]) == 2
    assert "--family" in capsys.readouterr().err
    (tmp_path / "meta.json").write_text("{not json")
    assert main(["meta", "eval", str(tmp_path), "--family", "maze"]) == 2
    assert "meta.json" in capsys.readouterr().err
    assert main(["meta", "train", "nope", "--steps", "8", "--out", str(tmp_path / "x")]) == 2
    assert "unknown task family" in capsys.readouterr().err
    assert sorted(FAMILIES)  # the families the message lists
