"""League runs: every scheduled match once in the ladder, re-runs continue instead of
repeating, records replay, bad input fails with nothing written, and the ratings recover a
known strength order."""

from __future__ import annotations

import json
import sqlite3

import pytest

from arena.cli import main
from arena.league import db, ratings
from arena.league.league import LeagueSpec, run_league
from arena.records.replay import replay_match

SMALL_TAG = {"size": 7, "max_cycles": 40}
HUNTERS_CKPT = "assets/checkpoints/tag_v0_hunters.safetensors"


def league(scenario="tag_v0", players=None, **kw) -> LeagueSpec:
    players = players or {"greedy": "planner", "rand": "random"}
    kw.setdefault("config", SMALL_TAG if scenario == "tag_v0" else {})
    return LeagueSpec(scenario, players, **kw)


def count(path, sql="SELECT count(*) FROM matches") -> int:
    with sqlite3.connect(path) as c:
        return c.execute(sql).fetchone()[0]


def test_a_tag_league_plays_each_side_and_a_rerun_continues_it(tmp_path):
    path = tmp_path / "l.sqlite"
    first = run_league(league(games=2, batch=8), path, progress=False)
    assert first["played"] == 4 and count(path) == 4
    entries = {tuple(json.loads(t)) for (t,) in sqlite3.connect(path).execute("SELECT teams FROM matches")}
    assert entries == {("greedy", "rand"), ("rand", "greedy")}
    again = run_league(league(games=2, batch=8), path, progress=False)
    assert again["played"] == 0 and again["skipped"] == 4
    more = run_league(league(games=3, batch=8), path, progress=False)
    assert more["played"] == 2 and count(path) == 6
    assert count(path, "SELECT count(DISTINCT key) FROM matches") == 6
    assert count(path, "SELECT count(*) FROM ratings") == 12
    conn = db.open_ladder(path)
    assert ratings.ladder(conn, "tag_v0")[0].player == "greedy"
    conn.close()


def test_a_tag_match_is_won_by_hunters_only_when_every_runner_is_caught(tmp_path):
    path = tmp_path / "l.sqlite"
    run_league(league(games=4), path, progress=False)
    with sqlite3.connect(path) as c:
        rows = c.execute("SELECT teams, ranks, returns, outcome FROM matches").fetchall()
    for teams, ranks, returns, outcome in rows:
        runners = json.loads(returns)[1]
        caught = all(r < 0 for r in runners)  # a caught runner's return is below zero
        assert json.loads(ranks) == ([0, 1] if caught else [1, 0]), outcome
        assert outcome.startswith(json.loads(teams)[0 if caught else 1])


@pytest.mark.parametrize("scenario", ["flags_v0", "maze_v0"])
def test_team_and_turn_scenarios_play_into_the_ladder(tmp_path, scenario):
    path = tmp_path / "l.sqlite"
    config = {"size": 7} if scenario == "maze_v0" else {"max_cycles": 60}
    out = run_league(
        league(scenario, games=2, config=config, schedule="swiss", rounds=2), path, progress=False
    )
    sides = 2 if scenario == "flags_v0" else 1
    assert out["played"] == 2 * 2 * sides == count(path)
    assert count(path, "SELECT count(DISTINCT round) FROM matches") == 2


def test_every_match_can_be_saved_as_a_record_that_replays(tmp_path):
    path, records = tmp_path / "l.sqlite", tmp_path / "records"
    run_league(league(games=2, record_dir=str(records)), path, progress=False)
    with sqlite3.connect(path) as c:
        files = [r for (r,) in c.execute("SELECT record FROM matches")]
    assert len(files) == 4 and all(f.startswith(str(records)) for f in files)
    match = replay_match(files[-1])
    while not match.done:
        match.step()  # a record whose digests disagree with the re-run raises
    with sqlite3.connect(path) as c:
        steps = c.execute("SELECT steps FROM matches WHERE record=?", (files[-1],)).fetchone()[0]
    assert match.steps == steps


@pytest.mark.parametrize(
    ("players", "words"),
    [
        ({"a": "planner", "b": "nosuch"}, "unknown controller 'nosuch'"),
        (
            {"a": "planner", "b": "assets/checkpoints/maze_v0_agents.safetensors"},
            "maze_v0_agents.safetensors",
        ),
        ({"a": "planner", "b": "human"}, "a human plays in the viewer"),
        ({"a": "planner", "b": "seekers=planner,runners=random"}, "a controller per team"),
    ],
)
def test_bad_players_fail_before_anything_is_written(tmp_path, players, words):
    path = tmp_path / "l.sqlite"
    with pytest.raises(ValueError, match=words):
        run_league(league(players=players, games=1), path, progress=False)
    assert not path.exists()


def test_the_cli_plays_a_league_and_the_ladder_prints_json_and_draws(tmp_path, capsys):
    path = tmp_path / "l.sqlite"
    args = ["league", "tag_v0", "--player", "greedy=planner", "--player", "rand=random", "--games", "2"]
    assert main([*args, "--db", str(path), "--config", "size=7", "--config", "max_cycles=30", "--quiet"]) == 0
    assert "4 matches played" in capsys.readouterr().out
    assert main(["ladder", "--db", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["player"] for r in rows] == ["greedy", "rand"]
    assert {"rank", "mu", "sigma", "rating", "games", "win_rate"} <= set(rows[0])
    assert abs(rows[0]["rating"] - (rows[0]["mu"] - 3 * rows[0]["sigma"])) < 1e-3
    assert main(["ladder", "--db", str(path), "--out", str(tmp_path / "png")]) == 0
    assert (tmp_path / "png" / "ladder_tag_v0_h2h.png").stat().st_size > 1000
    assert (tmp_path / "png" / "ladder_tag_v0_ratings.png").stat().st_size > 1000
    assert main(["ladder", "--db", str(tmp_path / "nothing.sqlite")]) == 2
    assert "no such ladder" in capsys.readouterr().err


def test_the_ladder_recovers_a_known_strength_order_with_separate_intervals(tmp_path):
    """planner on both sides > planner hunting with random runners > random on both sides."""
    path = tmp_path / "l.sqlite"
    players = {"top": "planner", "mid": "hunters=planner,runners=random", "low": "random"}
    run_league(league(players=players, games=24, batch=48), path, progress=False)
    conn = db.open_ladder(path)
    rows = ratings.ladder(conn, "tag_v0")
    conn.close()
    assert [r.player for r in rows] == ["top", "mid", "low"]
    for better, worse in zip(rows, rows[1:], strict=False):  # 95% intervals, mu +- 2 sigma, do not overlap
        assert better.mu - 2 * better.sigma > worse.mu + 2 * worse.sigma


def test_a_recurrent_checkpoint_plays_league_matches(tmp_path):
    """A GRU policy (`core=gru`) as a league player: its core state is kept per world and agent
    and starts afresh with every match, on either side of a tag match."""
    import worlds
    from agents.checkpoint import make_learner

    scenario = worlds.make_scenario("tag_v0", **SMALL_TAG)
    gru = make_learner("ppo", scenario, "cpu", seed=0, core="gru", hidden=16, num_actions=6)
    path = gru.save(tmp_path / "gru.safetensors", buffers=False)
    out = run_league(
        league(players={"gru": str(path), "rand": "random"}, games=2, batch=4),
        tmp_path / "l.sqlite",
        progress=False,
    )
    assert out["played"] == 4 and count(tmp_path / "l.sqlite") == 4
