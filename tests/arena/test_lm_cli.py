"""`arena lm train | bench | finetune` end to end, on a tiny corpus."""

from __future__ import annotations

import json

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from agents.lm.learning import load_lm_learner
from arena.cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm") / "small"
    assert main(["lm", "train", "--scale", "0.01", "--epochs", "1", "--threads", "1", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_train_writes_a_loadable_model_folder_with_its_card(model_dir, capsys):
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "training.json"} <= names
    assert not [p for p in model_dir.parent.iterdir() if p.name.startswith(".")]  # no leftovers
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert model.config.vocab_size == len(tokenizer)
    report = json.loads((model_dir / "training.json").read_text())
    assert 0.0 <= report["heldout_accuracy"]["all"] <= 1.0 and report["examples"]["train"] > 0
    card = (model_dir / "README.md").read_text()
    assert "Held-out action accuracy" in card and f"{report['parameters']:,} parameters" in card


@pytest.mark.slow
def test_bench_prints_speed_and_with_success_the_success_tables(model_dir, capsys):
    options = "--batches 1,4 --seconds 0.1 --episodes 1 --device cpu".split()
    assert main(["lm", "bench", "--model", str(model_dir), *options]) == 0
    out = capsys.readouterr().out
    assert "decisions/s" in out and "zero-shot success" not in out and "; cpu, torch 2" in out
    assert "1 thread," in out  # one torch thread unless --threads
    assert main(["lm", "bench", "--model", str(model_dir), *options, "--success"]) == 0
    out = capsys.readouterr().out
    assert "decisions/s" in out and "zero-shot success" in out
    assert "the success part: up to " in out and "LM decisions, at most ~" in out
    for contestant in ("random", "planner", "greedy"):
        assert contestant in out
    assert "tag_v0" in out and "plates_v0" in out


@pytest.mark.slow
def test_finetune_trains_evaluates_and_saves(model_dir, tmp_path, capsys):
    ckpt = tmp_path / "tuned.safetensors"
    args = [
        "lm", "finetune", "maze_v0", "--config", "style=open", "size=5", "max_cycles=10",
        "--model", str(model_dir), "--steps", "8", "--worlds", "2", "--episodes", "2",
        "--hp", "rollout=2", "epochs=1", "--device", "cpu", "--out", str(ckpt),
    ]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    for line in ("before (sampled): success", "before (greedy)", "after (sampled)", "after (greedy)"):
        assert line in out
    learner = load_lm_learner(ckpt)
    assert learner.name == "lm_ppo" and learner.steps == 4


def test_bad_input_fails_with_a_message(capsys):
    assert main(["lm", "bench", "--model", "no-such-model", "--no-success"]) == 2
    assert "cannot load language model 'no-such-model'" in capsys.readouterr().err
    assert main(["lm", "bench", "--batches", "0"]) == 2
    assert main(["lm", "train", "--scale", "0", "--out", "unused"]) == 2


@pytest.mark.slow
def test_continual_prints_the_matrix_and_forgetting(model_dir, capsys):
    """The default tasks (tag corridor, plates, maze), with EWC between them."""
    args = ["lm", "continual", "--model", str(model_dir), "--steps-per-task", "4"]
    args += [*"--worlds 2 --episodes 2 --device cpu --hp rollout=2 epochs=1 continual=ewc".split()]
    assert main(args) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert [task.split(":")[0] for task in result["tasks"]] == ["tag_v0", "plates_v0", "maze_v0"]
    assert len(result["R"]) == 3 and all(len(r) == 3 for r in result["R"])
    assert result["acc"] == pytest.approx(sum(result["R"][-1]) / 3)
    assert "BWT" in out and "FORGETTING" in out
