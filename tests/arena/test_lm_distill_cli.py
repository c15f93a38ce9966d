"""`arena lm distill` end to end: a shipped checkpoint taught to the shipped model in a scenario
whose words it lacks, the student written where it belongs and played by `arena lm eval`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.lm.model import DEFAULT_DIR
from arena.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

KEYS_PPO = Path("assets/checkpoints/keys_v0_agents.safetensors").resolve()
SCENARIO = "keys_v0:max_cycles=12"


@pytest.mark.slow
def test_distill_a_checkpoint_into_the_shipped_model_and_evaluate_the_student(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default --out and the baseline cache go under ./out
    args = ["lm", "distill", "--teacher", str(KEYS_PPO), "--scenario", SCENARIO, "--steps", "64"]
    args += "--worlds 8 --hp epochs=1 --episodes 2 --threads 1 --device cpu --json".split()
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    out = Path(report["out"])
    assert out == Path("out/lm_distill/keys_v0-keys_v0_agents")
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "training.json"} <= {
        p.name for p in out.iterdir()
    }
    assert json.loads((out / "training.json").read_text())["teacher"] == str(KEYS_PPO)
    assert {"pickup", "drop", "toggle"} <= set(report["words_added"])
    assert report["team"] == "agents" and report["rounds"] == 2 and len(report["history"]) == 2
    assert report["hyper"] == {"lr": 1e-3, "epochs": 1, "batch_size": 64, "epsilon": 0.2}
    assert report["history"][1]["states"] > report["history"][0]["states"]  # the DAgger round added states
    for when in ("before", "after"):
        m = report[when]
        assert 0.0 <= m["agreement"] <= 1.0 and m["kl"] >= 0.0
        assert set(m["sampled"]) == {"success", "score", "progress"}
    assert set(report["teacher_play"]) == {"sampled", "greedy"}
    assert "Grid Arena LM student distilled from" in (out / "README.md").read_text()
    # the student plays keys_v0 now, which the shipped model cannot
    evaluation = ["lm", "eval", "--model", str(out), "--scenarios", SCENARIO, "--episodes", "2", "--json"]
    assert main([*evaluation, "--threads", "1", "--device", "cpu"]) == 0
    row = json.loads(capsys.readouterr().out)["scenarios"][0]
    assert row["playable"] and row["decisions"] > 0
    # on the same seeds, as the distillation report measured it (sampled, seeded alike)
    assert row["success"] == report["after"]["sampled"]["success"]


def test_the_shipped_models_folder_is_never_the_default_or_a_target(tmp_path, capsys):
    args = ["lm", "distill", "--teacher", "planner", "--scenario", "maze_v0", "--out", str(DEFAULT_DIR)]
    assert main(args) == 2
    assert "shipped model's folder" in capsys.readouterr().err
    assert main(["lm", "distill", "--teacher", "planner"]) == 2
    assert "--scenario is needed" in capsys.readouterr().err
    assert main(["lm", "distill", "--teacher", "planner", "--scenario", "tag_v0", "--team", "bats"]) == 2
    assert "tag_v0 has teams hunters, runners" in capsys.readouterr().err
    for bad, words in (
        ("lr=0", "--hp lr must be"),
        ("epochs=1.5", "--hp epochs must be"),
        ("temp=2", "--hp temp"),
    ):
        assert main(["lm", "distill", "--teacher", "planner", "--scenario", "maze_v0", "--hp", bad]) == 2
        assert words in capsys.readouterr().err
