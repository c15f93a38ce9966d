"""`arena train` with language-model learners (`--seat agents=lm_ppo[:MODEL]`, `lm_q`): logs,
evaluation, checkpoints that `--seat NAME=PATH` loads, `--export` and an exact `--resume`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from agents.base import Observations
from agents.lm.model import DEFAULT_DIR
from agents.registry import load_controller
from arena.cli import main
from arena.training.loop import evaluate, make_seat, parse_scenario
from arena.training.run import CHECKPOINT, Run, TrainConfig, load_run
from worlds.batch import BatchEnv

pytestmark = pytest.mark.usefixtures("one_thread")

MAZE = "maze_v0:size=5:max_cycles=12"
PPO = {"rollout": 4, "epochs": 1, "minibatch": 8}  # an update every 4 steps of 4 worlds


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]


def shipped_weights() -> dict[str, torch.Tensor]:
    return load_file(DEFAULT_DIR / "model.safetensors")


def test_lm_ppo_trains_from_the_command_line_and_its_checkpoint_takes_a_seat(tmp_path, capsys):
    out, assets = tmp_path / "run", tmp_path / "assets"
    hp = [x for k, v in PPO.items() for x in ("--hp", f"{k}={v}")]
    code = main([
        "train", MAZE, "--seat", "agents=lm_ppo", "--steps", "32", "--worlds", "4", *hp,
        "--eval-worlds", "3", "--out", str(out), "--export", str(assets),
    ])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "agents=lm_ppo; 4 worlds, 32 env steps" in printed and "agents | agent_0 | lm_ppo" in printed
    train = [r for r in records(out) if r["kind"] == "train"]
    evals = [r for r in records(out) if r["kind"] == "eval"]
    assert train[-1]["step"] == 32 and np.isfinite(train[-1]["agents/policy_loss"])
    assert evals and 0.0 <= evals[-1]["success"] <= 1.0
    learner = load_controller(out / "agents.safetensors", device="cpu")  # what --seat agents=PATH loads
    assert learner.name == "lm_ppo" and learner.samples == 32 and learner.hyper["rollout"] == 4
    tuned = learner.model.state_dict()
    start = shipped_weights()
    assert any(not torch.equal(tuned[k], start[k]) for k in start)  # PPO moved the shipped model
    assert load_controller(assets / "maze_v0_agents.safetensors", device="cpu").samples == 32

    gif = tmp_path / "watch.gif"
    watch = ["watch", "maze_v0", "--config", "size=5", "--config", "max_cycles=12", "--headless"]
    assert main([*watch, "--seat", f"agents={out / 'agents.safetensors'}", "--out", str(gif)]) == 0
    assert gif.stat().st_size > 0

    assert main(["train", "--out", str(out), "--resume", "--steps", "48", "--quiet"]) == 0
    assert load_run(out / CHECKPOINT).progress["step"] == 48
    assert load_controller(out / "agents.safetensors", device="cpu").samples == 48


def test_lm_q_trains_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    hp = ["--hp", "learning_starts=8", "--hp", "batch_size=8", "--hp", "target_every=2"]
    code = main(["train", MAZE, "--seat", "agents=lm_q", "--steps", "24", "--worlds", "4", *hp,
                 "--eval-worlds", "2", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    assert any(np.isfinite(r.get("agents/loss", np.nan)) for r in records(out))  # the Q head updated
    learner = load_controller(out / "agents.safetensors", device="cpu")
    assert learner.name == "lm_q" and learner.updates > 0


def test_a_seat_spec_names_the_model():
    scenario = parse_scenario(MAZE)
    seat = make_seat(scenario, "agents", [0], f"lm_ppo:{DEFAULT_DIR}", seed=3, device="cpu", hyper=PPO)
    assert seat.controller.hyper["model"] == str(DEFAULT_DIR) and seat.controller.hyper["rollout"] == 4
    assert seat.learns and seat.num_actions == len(scenario.actions)
    with pytest.raises(ValueError, match="give one"):
        make_seat(scenario, "agents", [0], "lm_ppo:smollm2", seed=3, device="cpu", hyper={"model": "default"})


def test_evaluation_leaves_the_learners_prompt_memory_alone():
    """Evaluation worlds reuse the training worlds' indices: the recent actions the learner's
    prompts show for its training worlds must survive an evaluation."""
    scenario = parse_scenario(MAZE)
    seat = make_seat(scenario, "agents", [0], "lm_ppo", seed=3, device="cpu", hyper=PPO)
    env = BatchEnv(scenario, 3, seed=0)
    raw = env.reset()
    for _ in range(2):
        obs = Observations.of_batch(scenario, env.world, raw, [0])
        action = seat.controller.act(obs)
        raw = env.step(action.reshape(3, 1))[0]
    memory = {key: list(actions) for key, actions in seat.controller.seat.memory.items()}
    assert len(memory) == 3 and all(memory.values())
    first = evaluate(scenario, [seat], num_worlds=3, seed=11, device="cpu")
    assert seat.controller.seat.memory == memory
    assert evaluate(scenario, [seat], num_worlds=3, seed=11, device="cpu") == first


LM_Q = {"learning_starts": 8, "batch_size": 8, "target_every": 2}


@pytest.mark.slow
@pytest.mark.parametrize("algo, hyper, partial", [("lm_ppo", PPO, "rollout."), ("lm_q", LM_Q, "pending.")])
def test_killed_lm_run_resumed_ends_exactly_like_an_uninterrupted_one(tmp_path, algo, hyper, partial):
    """Checkpoints in the middle of a rollout (lm_ppo saves its partial rollout, prompts and
    all) or of an n-step transition (lm_q saves the last step, waiting for its next state): the
    resumed run has the same weights, optimizer, replay, prompt memory and log as the run left
    alone."""
    cfg = TrainConfig(
        scenario=MAZE, teams={"agents": algo}, hyper=hyper, worlds=4, steps=4 * 24,
        log_every=8, eval_every=4 * 12, checkpoint_every=4 * 5, eval_worlds=3,
    )  # fmt: skip

    class Killed(Exception):
        pass

    def stop(run: Run) -> None:
        if run.step >= 4 * 14:
            raise Killed

    Run(cfg, tmp_path / "whole", quiet=True).run()
    with pytest.raises(Killed):
        Run(cfg, tmp_path / "killed", quiet=True).run(stop)
    saved = load_run(tmp_path / "killed" / CHECKPOINT)
    assert saved.progress["step"] == 4 * 10 and saved.progress["seats"][0]["memory"]
    assert any(key.startswith(f"seat/agents/{partial}") for key in saved.tensors)  # mid-way
    Run(None, tmp_path / "killed", resume=True, quiet=True).run()
    for name in (CHECKPOINT, "agents.safetensors"):
        whole, again = load_file(tmp_path / "whole" / name), load_file(tmp_path / "killed" / name)
        assert whole.keys() == again.keys()
        assert [k for k in whole if not torch.equal(whole[k], again[k])] == [], name

    def lines(folder):
        return [{k: v for k, v in r.items() if k != "time"} for r in records(folder)]

    assert lines(tmp_path / "killed") == lines(tmp_path / "whole")


def test_the_lm_algorithm_list_matches_the_learners():
    from agents import checkpoint
    from arena.training.loop import LM_ALGOS

    assert LM_ALGOS == checkpoint.LM_ALGOS
