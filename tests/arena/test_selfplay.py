"""`arena train --self-play`: PFSP weights, the pools, the ladder, exact resume, the learner
outrating its first snapshot."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from agents.registry import load_controller
from arena.cli import main
from arena.league.pfsp import Payoff, pfsp_weights
from arena.training.run import CHECKPOINT, Run, TrainConfig, load_run

TAG = "tag_v0:size=7:max_cycles=20"
PPO = {"rollout": 16, "epochs": 2, "minibatches": 2, "hidden": 32}


def config(**overrides) -> TrainConfig:
    base = dict(
        scenario=TAG, hyper=PPO, worlds=8, steps=8 * 40, self_play=["hunters", "runners"],
        snapshot_every=8 * 10, log_every=8 * 10, eval_every=0, checkpoint_every=8 * 20, eval_worlds=2,
    )  # fmt: skip
    return TrainConfig(**(base | overrides))


class Stop(Exception):
    """Raised from a run's callback: the run dies as if killed."""


def matches(folder) -> list[tuple]:
    """The ladder's matches in order: players, ranks, scores (keys name the run folder)."""
    with sqlite3.connect(folder / "ladder.sqlite") as conn:
        return list(conn.execute("SELECT teams, ranks, scores, steps FROM matches ORDER BY id"))


def ratings(folder) -> list[tuple]:
    with sqlite3.connect(folder / "ladder.sqlite") as conn:
        sql = "SELECT p.name, r.mu, r.sigma FROM ratings r JOIN players p ON p.id = r.player_id ORDER BY r.id"
        return list(conn.execute(sql))


# -- PFSP: worked by hand ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "rates, power, expected",
    [
        ([0.0, 0.5, 1.0], 2, [1 / 1.25, 0.25 / 1.25, 0.0]),  # (1-x)^2: 1, 1/4, 0
        ([0.0, 0.5, 1.0], 1, [2 / 3, 1 / 3, 0.0]),  # linear: 1, 1/2, 0
        ([0.2, 0.6], 2, [0.64 / 0.8, 0.16 / 0.8]),  # 0.8^2 = 0.64, 0.4^2 = 0.16
        ([0.0, 0.5, 1.0], 0, [1 / 3, 1 / 3, 1 / 3]),  # power 0: uniform
        ([1.0, 1.0], 2, [0.5, 0.5]),  # beats everyone always: uniform, not 0/0
    ],
)
def test_pfsp_weights_by_hand(rates, power, expected):
    assert np.allclose(pfsp_weights(rates, power), expected)


def test_payoff_decays_old_results_and_counts_unseen_opponents_as_even():
    payoff = Payoff(decay=0.5)
    assert payoff.win_rate("never_met") == 0.5
    payoff.add("a", 1.0)  # a win: 1/1
    payoff.add("a", 0.0)  # a loss after it: wins 1 * 0.5 + 0 = 0.5, games 1 * 0.5 + 1 = 1.5
    assert payoff.win_rate("a") == pytest.approx(1 / 3)
    payoff.add("b", 0.5)  # a draw: half a win
    assert payoff.win_rate("b") == 0.5
    # weights over a (x = 1/3), b (0.5), c (unseen: 0.5): (2/3)^2, 1/4, 1/4
    raw = np.array([4 / 9, 1 / 4, 1 / 4])
    assert np.allclose(payoff.weights(["a", "b", "c"]), raw / raw.sum())
    assert Payoff.from_json(json.loads(json.dumps(payoff.to_json()))).to_json() == payoff.to_json()


@pytest.mark.parametrize("rates, power", [([], 2), ([0.5], -1)])
def test_pfsp_bad_input(rates, power):
    with pytest.raises(ValueError):
        pfsp_weights(rates, power)


# -- the run -----------------------------------------------------------------------------------
def test_snapshots_join_the_pools_and_every_episode_is_a_rated_match(tmp_path):
    run = Run(config(), tmp_path, quiet=True)
    summary = run.run()
    steps = [0, 80, 160, 240, 320]
    for seat in ("hunters", "runners"):
        assert summary["self_play"]["pool"][seat] == [f"{seat}_{k}" for k in steps]
        for k in steps:  # a snapshot rebuilds its learner alone
            assert load_controller(tmp_path / "pool" / f"{seat}_{k}.safetensors").name == "ppo"
    played = matches(tmp_path)
    assert len(played) == run.loop.stats.episodes > 0
    entries = [tuple(json.loads(teams)) for teams, *_ in played]
    # pool worlds: a learner against the other team's snapshot; the rest learner against learner
    assert ("hunters@latest", "runners@latest") in entries
    assert any(h == "hunters@latest" and r.startswith("runners_") for h, r in entries)
    assert any(h.startswith("hunters_") and r == "runners@latest" for h, r in entries)
    assert {n for e in entries for n in e} <= {"hunters@latest", "runners@latest"} | {
        f"{seat}_{k}" for seat in ("hunters", "runners") for k in steps
    }
    assert set(summary["self_play"]["ratings"]) >= {"hunters@latest", "runners@latest", "hunters_0"}


def test_a_learner_does_not_learn_from_the_worlds_its_snapshots_play(tmp_path):
    # every world is a hunters' pool world: runners are always played by their snapshots
    run = Run(config(self_play=["hunters"], pool_share=1.0, steps=8 * 20), tmp_path, quiet=True)
    summary = run.run()
    assert summary["self_play"]["pool"] == {"runners": ["runners_0", "runners_80", "runners_160"]}
    hunters, runners = (seat.controller for seat in run.seats)
    assert hunters.samples == 8 * 20 * 2  # two hunters, every step of every world
    assert runners.samples == 0
    assert all(json.loads(teams)[1].startswith("runners_") for teams, *_ in matches(tmp_path))


@pytest.mark.slow
def test_the_final_learner_outrates_its_first_snapshot(tmp_path):
    """4096 env steps of self-play in small one-on-one tag worlds: the hunter's learner, rated
    as it trains, ends above its own first snapshot (the untrained net) by the ladder's
    conservative rating mu - 3 sigma. (Measured, seeds 0 1 2: 16.5 vs 7.8, 14.8 vs -3.6,
    18.1 vs 0.7; mu 23.3 vs 21.1, 22.1 vs 13.0, 24.5 vs 15.7.)"""
    cfg = config(
        scenario=f"{TAG}:num_agents=2:num_hunters=1", hyper={"rollout": 16, "hidden": 32, "lr": 0.003},
        worlds=32, steps=4096, snapshot_every=1024, checkpoint_every=4096, log_every=1024,
    )  # fmt: skip
    summary = Run(cfg, tmp_path, quiet=True).run()
    rated = summary["self_play"]["ratings"]
    latest, first = rated["hunters@latest"], rated["hunters_0"]
    print(f"hunters@latest {latest}; hunters_0 {first}")
    assert latest["games"] > 100 and first["games"] > 5
    assert latest["rating"] > first["rating"] + 4.0


@pytest.mark.slow
def test_killed_self_play_run_resumed_ends_exactly_like_an_uninterrupted_one(tmp_path):
    cfg = config()
    Run(cfg, tmp_path / "whole", quiet=True).run()

    def stop(run: Run) -> None:
        if run.step >= 8 * 33:  # after the checkpoint at 8 * 20 and the snapshot at 8 * 30
            raise Stop

    with pytest.raises(Stop):
        Run(cfg, tmp_path / "killed", quiet=True).run(stop)
    saved = load_run(tmp_path / "killed" / CHECKPOINT)
    assert saved.progress["step"] == 8 * 20
    pool = saved.progress["self_play"]["pool"]["hunters"]
    assert [s[0] for s in pool] == ["hunters_0", "hunters_80", "hunters_160"]
    resumed = Run(None, tmp_path / "killed", resume=True, quiet=True)
    assert resumed.self_play.to_json() == saved.progress["self_play"]
    resumed.run()
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    files = [CHECKPOINT, "hunters.safetensors", "runners.safetensors"]
    files += [f"pool/{p.name}" for p in sorted((whole / "pool").iterdir())]
    assert files[3:] == [f"pool/{p.name}" for p in sorted((killed / "pool").iterdir())]
    for name in files:
        a, b = load_file(whole / name), load_file(killed / name)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), f"{name} differs after resume"
    # pools (their paths name the run folder), PFSP tallies, who plays where, the generator
    progress = [json.dumps(load_run(f / CHECKPOINT).progress["self_play"]) for f in (whole, killed)]
    assert progress[0].replace(str(whole), "OUT") == progress[1].replace(str(killed), "OUT")
    assert matches(killed) == matches(whole) and ratings(killed) == ratings(whole)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"scenario": "maze_v0:size=5"}, "pairs two teams"),
        ({"self_play": ["wizards"]}, "name teams of tag_v0"),
        ({"teams": {"runners": "random"}}, "runners .random. must be a learner"),
        ({"frozen": ["hunters"]}, "hunters .ppo. must be a learner"),
        ({"independent": True}, "one seat per team"),
    ],
)
def test_self_play_bad_input(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        Run(config(**overrides), tmp_path, quiet=True)


def test_train_command_self_play(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", TAG, "--self-play", "hunters", "--steps", "64", "--worlds", "8", "--out", str(out)]
    argv += ["--snapshot-every", "32", "--pool-share", "0.25", "--eval-every", "0", "--eval-worlds", "2"]
    argv += ["--hp", "rollout=8", "--hp", "hidden=16", "--db", str(tmp_path / "shared.sqlite")]
    assert main(argv) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["self_play"] == ["hunters"] and saved["pool_share"] == 0.25
    assert (tmp_path / "shared.sqlite").exists() and not (out / "ladder.sqlite").exists()
    assert sorted(p.name for p in (out / "pool").iterdir()) == [
        f"runners_{k}.safetensors" for k in (0, 32, 64)
    ]
    assert "hunters@latest" in capsys.readouterr().out
    assert main(["train", "--out", str(out), "--resume", "--self-play", "--steps", "128"]) == 2
    assert "--resume takes the run's settings" in capsys.readouterr().err
