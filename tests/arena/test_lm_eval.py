"""`arena lm eval`: the progress score, its JSON report, the baseline cache and the ladder entry."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from arena.cli import main
from arena.league import ratings
from arena.league.db import open_ladder
from arena.lm import eval as lm_eval
from arena.training.loop import parse_scenario

pytestmark = pytest.mark.usefixtures("one_thread")

FLAGS = "flags_v0:size=5:max_cycles=30:num_agents=2"  # a score scenario: random -1.25, planner -0.25
MAZE = "maze_v0:size=7:max_cycles=20"
TAG = "tag_v0:size=7:max_cycles=12"


def test_normalized_puts_random_at_0_and_the_planner_at_100():
    np.testing.assert_allclose(lm_eval.normalized([1.0, 3.0, 5.0, -1.0], 1.0, 5.0), [0, 50, 100, -50])
    assert lm_eval.normalized([2.0], 3.0, 3.0) is None  # no scale when the baselines tie
    played = lm_eval.Episodes(
        np.array([1, 0, 1, 1], bool), np.array([9.0, -9, 9, 9]), np.zeros((4, 1)), np.ones(4)
    )
    same = lm_eval.Episodes(np.zeros(4, bool), np.zeros(4), np.zeros((4, 1)), np.ones(4))
    goal = lm_eval.progress(lm_eval.GOAL, played, random=same, planner=same)
    assert goal["progress"] == 75.0 and goal["progress_se"] == pytest.approx(25.0)  # 100 x success
    # the mean is clipped into 0..100 for the headline; the raw value is kept
    low = lm_eval.Episodes(np.zeros(4, bool), np.full(4, -1.0), np.zeros((4, 1)), np.ones(4))
    high = lm_eval.Episodes(np.zeros(4, bool), np.full(4, 1.0), np.zeros((4, 1)), np.ones(4))
    score = lm_eval.progress(lm_eval.SCORE, played, random=low, planner=high)
    assert score["progress_raw"] == pytest.approx(100 * (4.5 + 1) / 2) and score["progress"] == 100.0


@pytest.mark.parametrize("text", [FLAGS, MAZE])
def test_random_and_planner_seats_score_0_and_100_on_the_baselines_seeds(text):
    """A `random` or `planner` seat replays its own baseline (same seeds, same opponents), so
    on a score scenario it lands exactly on 0 and 100; on a goal scenario the planner's 100 is
    its success rate."""
    scenario = parse_scenario(text)
    random = lm_eval.evaluate("random", text, scenario, episodes=4, seed=3, cache=None).report
    planner = lm_eval.evaluate("planner", text, scenario, episodes=4, seed=3, cache=None).report
    assert random["score"] == random["random"]["score"] and planner["score"] == planner["planner"]["score"]
    if lm_eval.metric(scenario) == lm_eval.SCORE:
        assert random["random"]["score"] < random["planner"]["score"]  # a scale to measure on
        assert random["progress_raw"] == pytest.approx(0.0, abs=1e-9)
        assert planner["progress_raw"] == pytest.approx(100.0)
    else:
        assert planner["progress"] == 100.0 * planner["success"] == 100.0
        assert random["progress"] == 100.0 * random["success"] < 100.0
    assert random["opponents"] == ("planner" if scenario.name == "flags_v0" else None)


def test_json_report_of_the_shipped_model_with_the_baseline_cache(tmp_path, capsys):
    cache = tmp_path / "baselines.json"
    args = ["lm", "eval", "--scenarios", f"{MAZE},keys_v0:max_cycles=10,{TAG}", "--episodes", "3", "--json"]
    args += [
        "--threads",
        "1",
        "--device",
        "cpu",
        "--baselines",
        str(cache),
        "--out",
        str(tmp_path / "r.json"),
    ]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert json.loads((tmp_path / "r.json").read_text()) == report
    assert report["seat"] == "lm:default" and report["first_seed"] == lm_eval.EVAL_SEED
    maze, keys, tag = report["scenarios"]
    for row in (maze, tag):
        assert row["playable"] and 0.0 <= row["progress"] <= 100.0 and row["progress_se"] >= 0.0
        assert row["metric"] == "success" and row["progress"] == pytest.approx(100 * row["success"])
        assert row["decisions"] > 0 and row["decisions_per_s"] > 0
        assert row["tokens"]["prompt"] > 100 * row["decisions"] and row["tokens"]["generated"] == 0
        assert row["tokens"]["candidates"] == row["decisions"] * len(parse_scenario(row["scenario"]).actions)
        assert set(row["random"]) >= {"success", "score", "progress"} and row["baselines_cached"] is False
    assert tag["agents"] == ["hunter_0", "hunter_1"] and tag["opponents"] == "planner"
    assert tag["team"] == "hunters" and tag["opponent_team"] == "runners" and maze["opponent_team"] is None
    assert tag["opponent_agents"] == ["runner_0", "runner_1"]
    # the shipped tokenizer cannot spell keys_v0's actions: reported, counted 0 in the overall mean
    assert not keys["playable"] and "pickup" in keys["reason"] and keys["progress"] is None
    overall = report["overall"]
    assert overall["scenarios"] == 3 and overall["played"] == 2
    assert overall["progress"] == pytest.approx((maze["progress"] + tag["progress"]) / 3)
    # a second run takes the baselines from the cache and gives the same figures
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert all(r["baselines_cached"] for r in again["scenarios"])
    assert [r["random"] for r in again["scenarios"]] == [r["random"] for r in report["scenarios"]]
    assert [r["success"] for r in again["scenarios"]] == [r["success"] for r in report["scenarios"]]
    assert set(keys) == set(maze)  # one schema for every row


def test_table_names_the_opponents_and_what_cannot_be_played(tmp_path, capsys):
    args = ["lm", "eval", "--scenarios", f"{TAG},forage_v0", "--episodes", "2", "--baselines", "none"]
    assert main([*args, "--threads", "1", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "opponents: the planner" in out and "hunters (2) vs planner runners (2)" in out
    assert "cannot play" in out and "'collect'" in out and "overall progress" in out


def test_results_enter_the_ladder_as_a_player(tmp_path, capsys):
    db = tmp_path / "ladder.sqlite"
    args = ["lm", "eval", "--scenarios", f"{MAZE},{TAG}", "--episodes", "2", "--baselines", "none"]
    args += ["--threads", "1", "--device", "cpu", "--ladder", str(db), "--name", "lm-small", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    # maze: a score race against the planner and against random per episode; tag: one team game
    assert report["ladder"]["added"] == 2 * 2 + 2 and report["ladder"]["skipped"] == 0
    conn = sqlite3.connect(db)
    players = dict(conn.execute("SELECT name, spec FROM players"))
    assert players == {"lm-small": "lm:default", "planner": "planner", "random": "random"}
    rows = conn.execute(
        "SELECT key, scenario, schedule, teams, ranks, seed FROM matches ORDER BY key"
    ).fetchall()
    assert len(rows) == 6 and {r[2] for r in rows} == {"lm-eval"}
    tag_rows = [r for r in rows if r[1] == "tag_v0"]
    assert len(tag_rows) == 2 and all(json.loads(r[3]) == ["lm-small", "planner"] for r in tag_rows)
    seeds = sorted(r[5] for r in tag_rows)
    assert seeds == [lm_eval.EVAL_SEED, lm_eval.EVAL_SEED + 1]
    # a tag hunt is won by the hunters only when every runner is caught (the league's rule)
    tag_success = [r for r in report["scenarios"] if r["name"] == "tag_v0"][0]["success"]
    hunter_wins = sum(json.loads(r[4])[0] == 0 for r in tag_rows)
    assert hunter_wins == round(2 * tag_success)
    n_ratings = conn.execute("SELECT count(*) FROM ratings").fetchone()[0]
    assert n_ratings == 2 * 6  # both players of every match, rated by openskill
    conn.close()
    ladder = open_ladder(db, create=False)
    try:
        assert {r.player for r in ratings.ladder(ladder, "maze_v0")} == {"lm-small", "planner", "random"}
    finally:
        ladder.close()
    # entering the same evaluation again adds nothing
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)["ladder"]
    assert again["added"] == 0 and again["skipped"] == 6


def test_bad_requests_fail_with_one_clear_line(tmp_path, capsys):
    assert main(["lm", "eval", "--ladder", str(tmp_path / "l.sqlite"), "--scenarios", MAZE]) == 2
    assert "--ladder needs --name" in capsys.readouterr().err
    assert main(["lm", "eval", "--model", "default", "--seat-spec", "lm", "--scenarios", MAZE]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["lm", "eval", "--scenarios", "nowhere_v0", "--baselines", "none"]) == 2
    assert "unknown scenario" in capsys.readouterr().err


def test_any_seat_spec_plays_a_checkpoint_where_it_fits_and_is_refused_elsewhere(capsys):
    ckpt = "assets/checkpoints/maze_v0_agents.safetensors"
    args = ["lm", "eval", "--seat-spec", ckpt, "--scenarios", f"{MAZE},{FLAGS}", "--episodes", "2"]
    assert main([*args, "--baselines", "none", "--threads", "1", "--device", "cpu", "--json"]) == 0
    maze, flags = json.loads(capsys.readouterr().out)["scenarios"]
    assert maze["playable"] and maze["tokens"] is None and maze["decisions"] > 0  # no tokens: not an LM
    assert not flags["playable"] and ckpt in flags["reason"] and "views" in flags["reason"]


def test_a_broken_baseline_cache_is_measured_again_and_rewritten(tmp_path):
    scenario = parse_scenario(MAZE)
    cache = tmp_path / "baselines.json"
    fresh, cached = lm_eval.baselines(scenario, 3, lm_eval.EVAL_SEED, 64, cache)
    assert not cached and lm_eval.baselines(scenario, 3, lm_eval.EVAL_SEED, 64, cache)[1]
    stored = json.loads(cache.read_text())
    (key,) = [k for k in stored if k != "format"]
    for broken in ({"random": {"success": [1]}}, {"random": "x", "planner": 3}):
        cache.write_text(json.dumps(stored | {key: broken}))
        again, cached = lm_eval.baselines(scenario, 3, lm_eval.EVAL_SEED, 64, cache)
        assert not cached and again["planner"].to_json() == fresh["planner"].to_json()
    cache.write_text("{not json")
    assert not lm_eval.baselines(scenario, 3, lm_eval.EVAL_SEED, 64, cache)[1]
    assert json.loads(cache.read_text())["format"] == "lm-eval-baselines"  # rewritten whole
