"""`arena train`: the batch loop, logs, checkpoints, exact resume, clear errors, the command."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from agents.registry import load_controller
from arena.cli import main
from arena.training import logbook
from arena.training.logbook import records_csv
from arena.training.loop import (
    ALGOS,
    TrainingLoop,
    evaluate,
    make_seat,
    parse_scenario,
    seat_hyper,
    seat_plan,
)
from arena.training.run import CHECKPOINT, Run, TrainConfig, load_run

MAZE = "maze_v0:size=5:max_cycles=20"
# Small and fast: updates happen within a few dozen steps.
PPO = {"rollout": 8, "epochs": 2, "minibatches": 2, "hidden": 32}
DQN = {"learning_starts": 32, "batch_size": 16, "hidden": 32, "target_every": 5, "epsilon_steps": 200}


def config(**overrides) -> TrainConfig:
    base = dict(
        scenario=MAZE, teams={"agents": "ppo"}, hyper=PPO, worlds=4, steps=4 * 40,
        log_every=4 * 5, eval_every=4 * 20, checkpoint_every=4 * 10, eval_worlds=3,
    )  # fmt: skip
    return TrainConfig(**(base | overrides))


class Stop(Exception):
    """Raised from a run's callback: the run dies as if killed."""


def stop_at(step: int):
    def callback(run: Run) -> None:
        if run.step >= step:
            raise Stop

    return callback


def log_lines(folder: Path) -> list[str]:
    """The JSONL records without their wall-clock field (the only thing a rerun may change)."""
    records = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
    return [json.dumps({k: v for k, v in r.items() if k != "time"}) for r in records]


def test_short_run_writes_logs_checkpoints_plots_and_summary(tmp_path):
    summary = Run(config(), tmp_path, quiet=True).run()
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in train] == list(range(20, 161, 20))
    assert [r["step"] for r in evals] == [80, 160]
    assert all(0.0 <= r["success"] <= 1.0 and "agents/return" in r for r in evals)
    assert any("agents/policy_loss" in r for r in train)  # the learner updated and reported it
    csv = (tmp_path / "log.csv").read_text().splitlines()
    assert csv[0].split(",")[:3] == ["kind", "step", "time"] and len(csv) == len(records) + 1
    assert "agents/policy_loss" in csv[0]
    saved = load_run(tmp_path / CHECKPOINT)
    assert saved.progress["step"] == 160 and saved.config["scenario"] == MAZE
    with Image.open(tmp_path / "learning_curves.png") as png:
        assert png.format == "PNG" and png.size[0] > 500
    learner = load_controller(tmp_path / "agents.safetensors")  # what `--seat agents=PATH` loads
    assert learner.name == "ppo" and learner.samples == 160  # one agent, 160 env steps
    assert summary["steps"] == 160 and summary["eval_success"] == evals[-1]["success"]
    assert json.loads((tmp_path / "summary.json").read_text())["seats"][0]["controller"] == "ppo"


@pytest.mark.slow
def test_killed_run_resumed_ends_exactly_like_an_uninterrupted_one(tmp_path):
    # Mixed teams: hunters learn with PPO, runners with DQN (replay buffer, target net, epsilon).
    cfg = config(
        scenario="tag_v0:size=7:max_cycles=15", teams={"hunters": "ppo", "runners": "dqn"},
        hyper={f"hunters.{k}": v for k, v in PPO.items()} | {f"runners.{k}": v for k, v in DQN.items()},
        steps=4 * 60, checkpoint_every=4 * 25,
    )  # fmt: skip
    Run(cfg, tmp_path / "whole", quiet=True).run()
    with pytest.raises(Stop):  # dies at step 4*37, after the checkpoint at step 4*25
        Run(cfg, tmp_path / "killed", quiet=True).run(stop_at(4 * 37))
    assert load_run(tmp_path / "killed" / CHECKPOINT).progress["step"] == 4 * 25
    resumed = Run(None, tmp_path / "killed", resume=True, quiet=True)
    assert resumed.step == 4 * 25
    resumed.run()
    for name in (CHECKPOINT, "hunters.safetensors", "runners.safetensors"):
        whole, again = load_file(tmp_path / "whole" / name), load_file(tmp_path / "killed" / name)
        assert whole.keys() == again.keys()
        for key in whole:
            assert torch.equal(whole[key], again[key]), f"{name}: {key} differs after resume"
    assert log_lines(tmp_path / "killed") == log_lines(tmp_path / "whole")


@pytest.mark.slow
def test_sigkilled_command_resumes_to_the_same_weights(tmp_path):
    """A real `arena train` process killed with SIGKILL at an unknown moment, then `--resume`:
    the same checkpoint and log as the same run left alone (run here in-process)."""
    # Long enough that an idle machine cannot finish it between the first checkpoint and the kill.
    cfg = config(teams={"agents": "tabular_q"}, hyper={}, steps=4000, log_every=40, eval_every=2000)
    Run(cfg, tmp_path / "whole", quiet=True).run()
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "arena.cli", "train", "--out", str(killed), "--quiet"]
    options = [
        MAZE, "--seat", "agents=tabular_q", "--worlds", "4", "--steps", "4000", "--log-every", "40",
        "--eval-every", "2000", "--eval-worlds", "3", "--checkpoint-every", "40",
    ]  # fmt: skip
    proc = subprocess.Popen([*command, *options])
    deadline = time.monotonic() + 120
    while not (killed / CHECKPOINT).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = load_run(killed / CHECKPOINT).progress["step"]
    assert step < 4000, "the run finished before it could be killed; make it longer"
    subprocess.run([*command, "--resume"], check=True, timeout=300)
    whole, again = load_file(tmp_path / "whole" / CHECKPOINT), load_file(killed / CHECKPOINT)
    assert whole.keys() == again.keys() and all(torch.equal(whole[k], again[k]) for k in whole)
    assert log_lines(killed) == log_lines(tmp_path / "whole")


def test_corrupt_or_foreign_checkpoints_fail_with_a_clear_error(tmp_path):
    Run(config(steps=4 * 10), tmp_path, quiet=True).run()
    path = tmp_path / CHECKPOINT
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"checkpoint\.safetensors: not a readable run checkpoint"):
        Run(None, tmp_path, resume=True, quiet=True)
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_run(path)
    path.write_bytes((tmp_path / "agents.safetensors").read_bytes())  # a learner's, not a run's
    with pytest.raises(ValueError, match="not a grid-arena run checkpoint"):
        load_run(path)
    with pytest.raises(ValueError, match="no run checkpoint to resume"):
        Run(None, tmp_path / "elsewhere", resume=True)


def test_a_new_run_refuses_a_folder_that_holds_one(tmp_path):
    Run(config(steps=4 * 10), tmp_path, quiet=True).run()
    with pytest.raises(ValueError, match="already holds a run"):
        Run(config(), tmp_path, quiet=True)


def test_seats_teams_agents_and_independent_learners():
    tag = parse_scenario("tag_v0")
    assert seat_plan(tag, {}) == [("hunters", [0, 1], "ppo"), ("runners", [2, 3], "ppo")]
    plan = seat_plan(tag, {"hunters": "dqn", "runner_1": "random"})
    assert plan == [("hunters", [0, 1], "dqn"), ("runners", [2], "ppo"), ("runner_1", [3], "random")]
    assert [name for name, _, _ in seat_plan(tag, {"runners": "a2c"}, independent=True)] == [
        "hunter_0", "hunter_1", "runner_0", "runner_1",
    ]  # fmt: skip
    assert seat_plan(tag, {"runners": "a2c"}, independent=True)[2][2] == "a2c"
    with pytest.raises(ValueError, match="tag_v0 has no seat .*teams hunters, runners"):
        seat_plan(tag, {"hunter": "ppo"})
    assert seat_hyper({"lr": 0.1, "hunters.lr": 0.2, "runners.gamma": 0.5}, "hunters") == {"lr": 0.2}


def test_transitions_carry_the_last_observation_of_finished_episodes():
    """The learner's rows: next_obs of a world that was reset is its final observation (not
    the new episode's first), terminated agents are flagged, and finished agents are inactive."""

    class Recorder:
        name = "recorder"

        def __init__(self):
            self.rng = np.random.default_rng(0)
            self.seen = []

        def act(self, obs, explore=True):
            return (self.rng.random(obs.action_mask.shape) * obs.action_mask).argmax(1)

        def learn(self, tr):
            self.seen.append(tr)

    scenario = parse_scenario("maze_v0:size=5:max_cycles=12:num_agents=2")
    recorder = Recorder()
    seat = make_seat(scenario, "agents", [0, 1], "random", 0)
    seat.controller = recorder
    loop = TrainingLoop(scenario, [seat], 6, seed=3)
    checked = differs = 0
    for _ in range(30):
        before = loop.state.copy()
        infos = loop.step()
        tr = recorder.seen[-1]
        assert np.array_equal(tr.obs.state.pos, before.pos)  # the snapshot the rows were made from
        assert np.array_equal(tr.active, infos["active"].reshape(-1))
        for k, b in enumerate(np.flatnonzero(infos["done"])):
            rows = slice(2 * b, 2 * b + 2)
            assert np.array_equal(tr.next_obs.view[rows], infos["final_obs"]["view"][k])
            # ... read off the world as it ended (text views, memories), not the fresh one
            assert tr.next_obs.state.t[b] == infos["episode_length"][k] > 0
            assert np.array_equal(tr.next_obs.state.pos[b], infos["final_state"].pos[k])
            differs += not np.array_equal(tr.next_obs.view[rows], loop.obs["view"][b])
            assert (tr.terminated[rows] | tr.truncated[rows] | ~tr.active[rows]).all()
            checked += 1
    assert checked > 0 and differs > 0  # the new episodes' first views are elsewhere


@pytest.mark.parametrize("spec", ["random", "ppo"])
def test_evaluation_uses_fixed_seeds_and_leaves_training_generators_alone(spec):
    scenario = parse_scenario(MAZE)
    seat = make_seat(scenario, "agents", [0], spec, seed=5, hyper=PPO if spec == "ppo" else None)
    state = seat.controller.rng.bit_generator.state
    first = evaluate(scenario, [seat], num_worlds=6, seed=11)
    assert evaluate(scenario, [seat], num_worlds=6, seed=11) == first
    assert evaluate(scenario, [seat], num_worlds=6, seed=12) != first  # other worlds, other draws
    assert seat.controller.rng.bit_generator.state == state
    assert set(first) == {"success", "length", "agents/return", "episodes"} | {
        "success_se",
        "length_se",
        "agents/return_se",
    }  # means with their standard errors over the 6 worlds
    greedy = evaluate(scenario, [seat], num_worlds=6, seed=11, explore=False)
    assert 0 <= greedy["success"] <= 1


def test_train_command_end_to_end_with_export(tmp_path, capsys):
    out, assets = tmp_path / "run", tmp_path / "assets"
    code = main([
        "train", MAZE, "--seat", "agents=tabular_q", "--worlds", "4", "--steps", "200",
        "--eval-worlds", "2", "--out", str(out), "--export", str(assets),
    ])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "agents | agent_0 | tabular_q" in printed and "200 env steps" in printed
    assert (assets / "maze_v0_agents.safetensors").exists()
    assert load_controller(assets / "maze_v0_agents.safetensors").name == "tabular_q"
    code = main(["train", "--out", str(out), "--resume", "--steps", "240", "--quiet"])
    assert code == 0 and load_run(out / CHECKPOINT).progress["step"] == 240


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "maze_v0", "--seat", "hunters=ppo"], "maze_v0 has no seat 'hunters'"),
        (["train", "maze_v0", "--seat", "agents"], "expected NAME=ALGO"),
        (["train", "nope_v0"], "unknown scenario 'nope_v0'"),
        (["train", "maze_v0:size"], "expected KEY=VALUE"),
        (["train", "maze_v0", "--seat", "agents=sarsa"], "unknown controller 'sarsa'"),
        (["train", "maze_v0", "--hp", "lr=x", "--steps", "64"], "lr='x' is not a number"),
        (["train", "maze_v0", "--hp", "hunters.lr=1"], "--hp hunters.KEY: the seats are agents"),
        (["train", "maze_v0", "--worlds", "0"], "worlds must be >= 1"),
        (["train", "--resume"], "--resume needs the --out folder"),
        (["train", "--resume", "--out", "x", "--worlds", "3"], "only --steps, --device"),
    ],
)
def test_train_command_bad_input(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_csv_columns_are_every_key_in_first_seen_order():
    text = records_csv([{"a": 1, "b": float("nan")}, {"a": 2, "c": "x"}])
    assert text.splitlines() == ["a,b,c", "1,,", "2,,x"]


def test_tensorboard_gets_every_number_when_installed(tmp_path, monkeypatch):
    class Board:
        def __init__(self):
            self.scalars, self.closed = [], False

        def add_scalar(self, tag, value, step):
            self.scalars.append((tag, value, step))

        def close(self):
            self.closed = True

    board = Board()
    monkeypatch.setattr(logbook, "_tensorboard", lambda folder, purge_step: board)
    log = logbook.Logbook(tmp_path)
    log.write({"kind": "eval", "step": 64, "success": 0.5, "agents/return": 0.25, "note": "x"})
    log.close()
    assert board.scalars == [("eval/success", 0.5, 64), ("eval/agents/return", 0.25, 64)] and board.closed


def test_the_algorithm_list_matches_the_learners():
    from agents import checkpoint

    assert ALGOS == checkpoint.ALGOS


def test_a_checkpoint_seat_keeps_learning_and_resumes_without_its_source_file(tmp_path):
    Run(config(teams={"agents": "tabular_q"}, hyper={}, steps=4 * 10), tmp_path / "first", quiet=True).run()
    source = tmp_path / "first" / "agents.safetensors"
    cfg = config(teams={"agents": str(source)}, hyper={}, steps=4 * 30)
    with pytest.raises(Stop):
        Run(cfg, tmp_path / "second", quiet=True).run(stop_at(4 * 25))
    source.unlink()  # the run kept its own copy of the seat
    run = Run(None, tmp_path / "second", resume=True, quiet=True)
    run.run()
    learner = load_controller(tmp_path / "second" / "agents.safetensors")
    assert learner.samples == 4 * 10 + 4 * 30  # the first run's experience, then this run's
    assert run.seats[0].spec == str(source)


SHIPPED = Path(__file__).resolve().parents[2] / "assets" / "checkpoints"


@pytest.mark.slow
@pytest.mark.parametrize(
    "scenario, seat, agents, others",
    [
        ("maze_v0", "agents", [0], []),
        ("plates_v0", "agents", [0, 1], []),
        ("tag_v0", "hunters", [0, 1], [("runners", [2, 3])]),
        ("tag_v0", "runners", [2, 3], [("hunters", [0, 1])]),
    ],
)
def test_shipped_checkpoints_load_and_beat_random_play(scenario, seat, agents, others):
    from arena.training.loop import Seat

    sc = parse_scenario(scenario)
    learner = load_controller(SHIPPED / f"{scenario}_{seat}.safetensors", "cpu", scenario=sc)
    rest = [make_seat(sc, name, members, "random", 0) for name, members in others]
    trained = evaluate(sc, [Seat(seat, np.array(agents), "ppo", learner, learner.num_actions), *rest], 32, 7)
    baseline = evaluate(sc, [make_seat(sc, seat, agents, "random", 0), *rest], 32, 7)
    if seat == "runners":  # success is the hunters' catch: runners do well when it is low
        assert trained["success"] < baseline["success"] - 0.1
    else:
        assert trained["success"] > baseline["success"] + 0.1
    assert trained[f"{seat}/return"] > baseline[f"{seat}/return"]


@pytest.mark.slow
def test_a_run_with_a_scenarios_own_state_resumes_exactly(tmp_path):
    # harvest_v0 keeps freezing clocks, cooldowns, regrowth keys and apple counts in State.extra:
    # the checkpoint must carry them, or the resumed worlds drift from the uninterrupted ones.
    cfg = config(
        scenario="harvest_v0:size=7:patches=1:num_agents=2:max_cycles=30:freeze_steps=3",
        teams={"harvesters": "ppo"}, hyper=PPO, steps=2 * 60, checkpoint_every=2 * 25,
    )  # fmt: skip
    Run(cfg, tmp_path / "whole", quiet=True).run()
    with pytest.raises(Stop):
        Run(cfg, tmp_path / "killed", quiet=True).run(stop_at(2 * 37))
    Run(None, tmp_path / "killed", resume=True, quiet=True).run()
    whole, again = load_file(tmp_path / "whole" / CHECKPOINT), load_file(tmp_path / "killed" / CHECKPOINT)
    assert any(key.startswith("env/extra/") for key in whole)
    for key in whole:
        assert torch.equal(whole[key], again[key]), f"{key} differs after resume"
    assert log_lines(tmp_path / "killed") == log_lines(tmp_path / "whole")


def test_the_shipped_signal_listener_reads_the_speakers_words():
    """signal_v0's shipped PPO listener (trained with the planner as speaker, see
    docs/scenarios/signal_v0.md) finds the target when told, and only then: with a random
    speaker it is back to luck. Seeded evaluation, so the figures are fixed for these weights."""
    from agents.planners import make_planner
    from agents.random_agent import RandomAgent
    from arena.training.loop import Seat

    sc = parse_scenario("signal_v0")
    listener = load_controller(SHIPPED / "signal_v0_agents.safetensors", "cpu", scenario=sc)
    success = {}
    for name, speaker in (("planner", make_planner(sc, 0)), ("random", RandomAgent(seed=0))):
        seats = [
            Seat("agent_0", np.array([0]), name, speaker, len(sc.actions)),
            Seat("agent_1", np.array([1]), "ppo", listener, listener.num_actions),
        ]
        success[name] = evaluate(sc, seats, 64, 1_000_000, "cpu")["success"]
    assert success["planner"] >= 0.75 and success["random"] <= 0.5, success


def test_a_killed_recurrent_run_resumes_exactly(tmp_path):
    """`--hp core=gru`: the core state of every row is in the run checkpoint, so a resumed run ends
    as the one left alone (two agents a world, whose episodes end at different times; evaluations
    in between lend the learner an empty state and give its own back)."""
    cfg = config(
        scenario="maze_v0:size=5:max_cycles=9:num_agents=2", hyper=PPO | {"core": "gru"},
        steps=4 * 40, checkpoint_every=4 * 10,
    )  # fmt: skip
    Run(cfg, tmp_path / "whole", quiet=True).run()
    with pytest.raises(Stop):
        Run(cfg, tmp_path / "killed", quiet=True).run(stop_at(4 * 27))
    saved = load_run(tmp_path / "killed" / CHECKPOINT)
    assert saved.progress["step"] == 4 * 20 and saved.tensors["seat/agents/hidden"].shape == (4, 2, 32)
    Run(None, tmp_path / "killed", resume=True, quiet=True).run()
    for name in (CHECKPOINT, "agents.safetensors"):
        whole, again = load_file(tmp_path / "whole" / name), load_file(tmp_path / "killed" / name)
        assert whole.keys() == again.keys()
        for key in whole:
            assert torch.equal(whole[key], again[key]), f"{name}: {key} differs after resume"
    assert log_lines(tmp_path / "killed") == log_lines(tmp_path / "whole")


def test_evaluation_leaves_a_recurrent_learners_states_alone():
    scenario = parse_scenario("maze_v0:size=5:max_cycles=9:num_agents=2")
    seat = make_seat(scenario, "agents", [0, 1], "ppo", seed=5, hyper=PPO | {"core": "lstm"})
    loop = TrainingLoop(scenario, [seat], 3, seed=0)
    for _ in range(5):
        loop.step()
    states = seat.controller.hidden.clone()
    first = evaluate(scenario, [seat], num_worlds=6, seed=11)
    assert torch.equal(seat.controller.hidden, states)
    assert evaluate(scenario, [seat], num_worlds=6, seed=11) == first  # each evaluation starts afresh


def test_train_command_takes_a_recurrent_core(tmp_path, capsys):
    out = tmp_path / "run"
    code = main([
        "train", MAZE, "--hp", "core=gru", "--hp", "hidden=16", "--hp", "rollout=8", "--worlds", "4",
        "--steps", "64", "--eval-worlds", "2", "--out", str(out), "--quiet",
    ])  # fmt: skip
    assert code == 0
    learner = load_controller(out / "agents.safetensors")
    assert learner.hyper["core"] == "gru" and learner.hidden is None  # a seat file: no states
    code = main([
        "train", MAZE, "--seat", f"agents={out / 'agents.safetensors'}", "--worlds", "4", "--steps", "32",
        "--eval-worlds", "2", "--out", str(tmp_path / "again"), "--quiet",
    ])  # fmt: skip
    assert code == 0 and load_controller(tmp_path / "again" / "agents.safetensors").samples == 64 + 32
