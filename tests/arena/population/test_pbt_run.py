"""`arena train --population`: members, the exploit step on real learners, lineage, exact resume,
the ladder of two-team populations, the command line and damaged files."""

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
from arena.league import ratings
from arena.population.config import CHECKPOINT, PopulationConfig, load_population
from arena.population.ladder import rate
from arena.population.population import LINEAGE, Population
from arena.population.space import RANGES
from worlds.errors import BadFileError

pytestmark = pytest.mark.usefixtures("one_thread")

MAZE = "maze_v0:size=5:max_cycles=20"
PPO = {"hidden": 16, "rollout": 8, "epochs": 1, "minibatches": 2}


def config(**overrides) -> PopulationConfig:
    base = dict(
        scenario=MAZE, hyper=PPO, population=4, worlds=4, steps=4 * 24, exploit_every=4 * 8, log_every=4 * 4,
        eval_worlds=4, seed=3,
    )  # fmt: skip
    return PopulationConfig(**(base | overrides))


class Stop(Exception):
    """Raised from a population's callback: the run dies as if killed."""


def lines(folder: Path, name: str = "log.jsonl") -> list[dict]:
    return [json.loads(line) for line in (folder / name).read_text().splitlines()]


def without_time(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"} for r in records]


def net(population: Population, k: int, seat: str = "agents") -> dict:
    learner = next(s.controller for s in population.hosts.members[k].seats if s.name == seat)
    return {key: value.clone() for key, value in learner.net.state_dict().items()}


def test_the_weakest_member_takes_the_strongest_ones_weights_exactly(tmp_path):
    population = Population(config(), tmp_path, quiet=True)
    try:
        hosts = population.hosts
        hosts.call([(k, "train", (64, 32)) for k in range(4)])  # two updates each
        population.step = 64
        population.payloads = hosts.call([(k, "weights", ()) for k in range(4)])
        before = [net(population, k) for k in range(4)]
        assert not all(torch.equal(before[1][key], before[2][key]) for key in before[1])
        source_hyper = dict(population.searched["m2"])
        loser_rng = hosts.members[1].seats[0].controller.rng.bit_generator.state
        events = population.exploit({"m0": (0.5, 0.3), "m1": (0.0, 0.0), "m2": (1.0, 0.9), "m3": (0.5, 0.1)})
        assert [(e["member"], e["from"]) for e in events] == [("m1", "m2")]
        after = [net(population, k) for k in range(4)]
        for key in before[2]:
            assert torch.equal(after[1][key], before[2][key]), key  # m1 holds m2's weights exactly
            assert torch.equal(after[2][key], before[2][key])  # the source is untouched
            assert torch.equal(after[0][key], before[0][key])
        learner = hosts.members[1].seats[0].controller
        new = population.searched["m1"]
        assert new == events[0]["hyper"] and set(new) == set(RANGES["ppo"])
        for key, value in new.items():
            low, high = RANGES["ppo"][key].low, RANGES["ppo"][key].high
            assert low <= value <= high and learner.hyper[key] == value
            if events[0]["explore"][key] != "resampled":
                factor = float(events[0]["explore"][key][1:])
                assert value == pytest.approx(min(max(source_hyper[key] * factor, low), high))
        assert learner.optimizer.param_groups[0]["lr"] == new["lr"]  # not the copied optimizer's
        assert learner.hyper["hidden"] == 16  # fixed by --hp, kept
        source_optim = hosts.members[2].seats[0].controller.optimizer.state_dict()["state"]
        own_optim = learner.optimizer.state_dict()["state"]
        assert all(torch.equal(own_optim[i]["exp_avg"], source_optim[i]["exp_avg"]) for i in source_optim)
        assert learner.rng.bit_generator.state == loser_rng  # its own actions, not the source's
        assert population.root["m1"] == "m2" and population.lineage[-1] is events[0]
    finally:
        population.close()


def test_a_run_logs_every_member_and_its_lineage(tmp_path):
    summary = Population(config(), tmp_path, quiet=True).run()
    records, lineage = lines(tmp_path), lines(tmp_path, LINEAGE)
    evals = [r for r in records if r["kind"] == "eval"]
    assert sorted({(r["member"], r["step"]) for r in evals}) == [
        (f"m{k}", s) for k in range(4) for s in (32, 64, 96)
    ]
    train = [r for r in records if r["kind"] == "train" and r["member"] == "m0"]
    assert [r["step"] for r in train] == list(range(16, 97, 16))
    starts = [e for e in lineage if e["kind"] == "start"]
    assert [e["member"] for e in starts] == ["m0", "m1", "m2", "m3"]
    for e in starts:
        assert e["step"] == 0 and e["root"] == e["member"]
        assert all(RANGES["ppo"][k].low <= v <= RANGES["ppo"][k].high for k, v in e["hyper"].items())
    copies = [e for e in lineage if e["kind"] == "exploit"]
    assert [e["step"] for e in copies] == [32, 64]  # a quarter of 4 at each exploit step, none at the end
    hyper = {e["member"]: e["hyper"] for e in starts}
    root = {e["member"]: e["member"] for e in starts}
    for e in copies:
        score = {r["member"]: r for r in evals if r["step"] == e["step"]}
        assert e["score"] == score[e["member"]]["score"] and e["from_score"] == score[e["from"]]["score"]
        assert min(r["score"] for r in score.values()) == e["score"]  # the weakest copied
        assert max(r["score"] for r in score.values()) == e["from_score"]  # the strongest was copied
        assert e["hyper_before"] == hyper[e["member"]] and e["from_hyper"] == hyper[e["from"]]
        assert score[e["member"]]["hp/lr"] == hyper[e["member"]]["lr"]  # evaluated with its old values
        assert e["root"] == root[e["from"]]
        hyper[e["member"]], root[e["member"]] = e["hyper"], root[e["from"]]
    assert {m["member"]: m["root"] for m in summary["members"]} == root
    assert {m["member"]: m["hyper"] for m in summary["members"]} == hyper
    assert summary["copies"] == 2 and summary["best"]["member"] in root
    assert load_population(tmp_path / CHECKPOINT).progress["lineage"] == lineage
    with Image.open(tmp_path / "population.png") as png:
        assert png.format == "PNG" and png.size[0] > 600
    learner = load_controller(tmp_path / "members" / "m0_agents.safetensors")  # a seat for watch/play
    assert learner.name == "ppo" and learner.hyper["lr"] == hyper["m0"]["lr"]


@pytest.mark.slow
def test_a_killed_population_resumes_to_the_same_end_as_one_left_alone(tmp_path):
    Population(config(), tmp_path / "whole", quiet=True).run()

    def stop(population):
        if population.step >= 64:
            raise Stop

    with pytest.raises(Stop):
        Population(config(), tmp_path / "killed", quiet=True).run(stop)
    killed = tmp_path / "killed"
    # what the dead run wrote after its last checkpoint is cut away on resume
    with open(killed / "log.jsonl", "a") as f:
        f.write('{"kind": "train", "member": "m0", "step": 68}\n')
    resumed = Population(None, killed, resume=True, quiet=True)
    assert resumed.step == 64
    resumed.run()
    whole, again = load_file(tmp_path / "whole" / CHECKPOINT), load_file(killed / CHECKPOINT)
    assert whole.keys() == again.keys()
    for key in whole:
        assert torch.equal(whole[key], again[key]), f"{key} differs after resume"
    assert without_time(lines(killed)) == without_time(lines(tmp_path / "whole"))
    assert lines(killed, LINEAGE) == lines(tmp_path / "whole", LINEAGE)
    for k in range(4):
        a = load_file(tmp_path / "whole" / "members" / f"m{k}_agents.safetensors")
        b = load_file(killed / "members" / f"m{k}_agents.safetensors")
        assert all(torch.equal(a[key], b[key]) for key in a)


@pytest.mark.slow
def test_a_sigkilled_population_command_resumes_to_the_same_end(tmp_path):
    """A real `arena train --population` process killed with SIGKILL once it has checkpointed,
    then `--resume`: the same checkpoint, log and lineage as the same run left alone."""
    cfg = config(steps=4 * 48, exploit_every=4 * 4, log_every=4 * 4)
    Population(cfg, tmp_path / "whole", quiet=True).run()
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "arena.cli", "train", "--out", str(killed), "--quiet"]
    options = [
        MAZE, "--population", "4", "--worlds", "4", "--steps", str(4 * 48), "--exploit-every", "16",
        "--log-every", "16", "--eval-worlds", "4", "--seed", "3", *(f"--hp={k}={v}" for k, v in PPO.items()),
    ]  # fmt: skip
    proc = subprocess.Popen([*command, *options])
    deadline = time.monotonic() + 300
    while not (killed / CHECKPOINT).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = load_population(killed / CHECKPOINT).progress["step"]
    assert step < 4 * 48, "the run finished before it could be killed; make it longer"
    subprocess.run([*command, "--resume"], check=True, timeout=600)
    whole, again = load_file(tmp_path / "whole" / CHECKPOINT), load_file(killed / CHECKPOINT)
    assert whole.keys() == again.keys() and all(torch.equal(whole[k], again[k]) for k in whole)
    assert without_time(lines(killed)) == without_time(lines(tmp_path / "whole"))
    assert lines(killed, LINEAGE) == lines(tmp_path / "whole", LINEAGE)


def test_rate_uses_the_leagues_openskill_and_counts_wins():
    results = [
        {"teams": ["m0", "m1"], "ranks": [0, 1], "scores": [1, 0]},
        {"teams": ["m1", "m0"], "ranks": [1, 0], "scores": [0, 1]},
        {"teams": ["m0", "m2"], "ranks": [0, 0], "scores": [0, 0]},
        {"teams": ["m2", "m1"], "ranks": [0, 1], "scores": [1, 0]},
    ]
    rows = rate(["m0", "m1", "m2"], results)
    expected = ratings.replay_ratings(results)
    for name, row in rows.items():
        assert (row["mu"], row["sigma"]) == expected[name]
        assert row["rating"] == ratings.conservative(*expected[name])
    assert rows["m0"]["games"] == 3 and rows["m0"]["win_rate"] == pytest.approx(2.5 / 3)
    assert rows["m1"]["win_rate"] == 0.0
    assert rows["m0"]["rating"] > rows["m2"]["rating"] > rows["m1"]["rating"]


def test_two_learning_teams_are_scored_by_a_ladder_among_the_members(tmp_path):
    tag = PopulationConfig(
        scenario="tag_v0:size=7:max_cycles=8", hyper=PPO, population=3, worlds=4, steps=4 * 8,
        exploit_every=4 * 4, eval_worlds=2, seed=1,
    )  # fmt: skip
    population = Population(tag, tmp_path, quiet=True)
    assert population.ladder
    summary = population.run()
    evals = [r for r in lines(tmp_path) if r["kind"] == "eval"]
    assert len(evals) == 6
    for r in evals:
        # each member meets the two others twice on each side
        assert r["games"] == 8 and r["score"] == r["rating"] and r["mu"] - 3 * r["sigma"] == r["rating"]
    assert summary["score"] == "rating"
    files = sorted(p.name for p in (tmp_path / "members").iterdir())
    assert files == [f"m{k}_{team}.safetensors" for k in range(3) for team in ("hunters", "runners")]
    # a member's learners are a league player: one controller per team
    from arena.league.play import make_player_controller

    spec = ",".join(f"{t}={tmp_path / 'members' / f'm0_{t}.safetensors'}" for t in ("hunters", "runners"))
    assert set(make_player_controller(spec, population.scenario, 0, "cpu")) == {"hunters", "runners"}


def test_the_command_line_trains_a_population_and_exports_the_best(tmp_path, capsys):
    out, export = tmp_path / "run", tmp_path / "export"
    argv = [
        "train", MAZE, "--population", "3", "--worlds", "4", "--steps", "32", "--exploit-every", "16",
        "--eval-worlds", "2", "--hp", "hidden=16", "--hp", "rollout=8", "--hp", "lr=0.0005:0.005",
        "--hp", "ent_coef=0.01", "--out", str(out), "--export", str(export), "--threads", "1",
    ]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr()
    assert "--population 3: ppo, searching clip" in text.out and "lr 0.0005..0.005" in text.out
    assert "ent_coef" not in text.out.split("searching")[1].split(";")[0]  # fixed, not searched
    assert "best m" in text.out and (export / "maze_v0_agents.safetensors").exists()
    summary = json.loads((out / "summary.json").read_text())
    hyper = [m["hyper"] for m in summary["members"]]
    assert all(0.0005 <= h["lr"] <= 0.005 and "ent_coef" not in h for h in hyper)
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 2
    assert "already reached 32 steps" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--resume", "--steps", "48", "--quiet"]) == 0
    assert load_population(out / CHECKPOINT).progress["step"] == 48


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--population", "1"], "population must be at least 2"),
        (["--population", "3", "--self-play"], "does not take --self-play"),
        (["--population", "3", "--eval-every", "8"], "does not take --eval-every"),
        (["--population", "3", "--seat", "agents=dqn"], "trains new ppo|a2c|reinforce learners"),
        (["--population", "3", "--seat", "agents=runs/x.safetensors"], "trains new ppo"),
        (["--population", "3", "--exploit-share", "0.7"], "exploit_share must be a number in [0, 0.5]"),
        (["--population", "3", "--exploit-every", "2"], "exploit_every must be at least worlds"),
        (["--population", "3", "--hp", "lr=0.1:0.01"], "LOW must be below HIGH"),
        (["--ray"], "--ray puts rollout workers on a Ray cluster: give --workers N too (or --population N)"),
    ],
)
def test_bad_population_options_fail_with_one_clear_line(extra, message, tmp_path, capsys):
    assert main(["train", MAZE, "--worlds", "4", "--out", str(tmp_path / "x"), *extra]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err


def test_damaged_population_checkpoints_are_refused_naming_the_file(tmp_path):
    Population(config(steps=32), tmp_path, quiet=True).run()
    path = tmp_path / CHECKPOINT
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BadFileError, match=f"{path}: corrupt population checkpoint"):
        Population(None, tmp_path, resume=True, quiet=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(BadFileError, match=str(path)):
        Population(None, tmp_path, resume=True, quiet=True)
    with pytest.raises(BadFileError, match="no population checkpoint to resume"):
        Population(None, tmp_path / "nothing", resume=True, quiet=True)
    with pytest.raises(ValueError, match="already holds a population"):
        Population(config(), tmp_path, quiet=True)


def test_members_seeds_and_first_hyper_parameters_follow_the_seed(tmp_path):
    a = Population(config(seed=5), tmp_path / "a", quiet=True)
    b = Population(config(seed=5), tmp_path / "b", quiet=True)
    c = Population(config(seed=6), tmp_path / "c", quiet=True)
    try:
        assert a.searched == b.searched and a.searched != c.searched
        assert len({json.dumps(h, sort_keys=True) for h in a.searched.values()}) == 4  # all differ
        worlds = [m.loop.env.world.pos.copy() for m in a.hosts.members]
        assert not all(np.array_equal(worlds[0], w) for w in worlds[1:])  # each member its own worlds
    finally:
        for p in (a, b, c):
            p.close()
