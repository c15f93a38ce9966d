"""The ladder file: WAL and a schema version, migrations, clear errors for files that are not
ladders or are newer, one write per match key, players that must stay the same controller."""

from __future__ import annotations

import sqlite3

import pytest

from arena.league import db, ratings
from arena.league.db import LadderError, MatchResult, Player


def result(key: str, teams=("a", "b"), ranks=(0, 1)) -> MatchResult:
    return MatchResult(
        key=key, scenario="tag_v0", config={}, schedule="round-robin", round=0, game=0, seed=1,
        teams=list(teams), ranks=list(ranks), scores=[1.0, -1.0], returns=[[1.0], [-1.0]],
        outcome="a wins", steps=10, seconds=0.01,
    )  # fmt: skip


def add(conn, key, **kw) -> bool:
    r = result(key, **kw)
    players = {n: Player(n, "random") for n in r.teams}
    return db.add_match(conn, players, r, lambda before: ratings.rate(r.teams, r.ranks, before))


def test_a_new_ladder_is_versioned_in_wal_mode(tmp_path):
    conn = db.open_ladder(tmp_path / "l.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == db.APPLICATION_ID
    conn.close()


def test_each_match_key_is_written_once_with_its_players_and_ratings(tmp_path):
    conn = db.open_ladder(tmp_path / "l.sqlite")
    assert add(conn, "k1") and add(conn, "k2")
    assert not add(conn, "k1")
    assert conn.execute("SELECT count(*) FROM matches").fetchone()[0] == 2
    assert conn.execute("SELECT count(*) FROM players").fetchone()[0] == 2
    assert conn.execute("SELECT count(*) FROM ratings").fetchone()[0] == 4
    (mu_a, _), (mu_b, _) = (db.latest_ratings(conn, "tag_v0")[n] for n in "ab")
    assert mu_a > ratings.MU > mu_b
    rows = ratings.ladder(conn, "tag_v0")
    assert [(r.player, r.games, r.win_rate) for r in rows] == [("a", 2, 1.0), ("b", 2, 0.0)]
    players, rates, played = ratings.head_to_head(conn, "tag_v0")
    assert players == ["a", "b"] and rates[0][1] == 1.0 and rates[1][0] == 0.0 and played[0][1] == 2


def test_a_draw_moves_the_stronger_player_down(tmp_path):
    conn = db.open_ladder(tmp_path / "l.sqlite")
    add(conn, "k1")
    before = db.latest_ratings(conn, "tag_v0")["a"][0]
    add(conn, "k2", ranks=(0, 0))
    assert db.latest_ratings(conn, "tag_v0")["a"][0] < before
    assert ratings.ladder(conn, "tag_v0")[0].wins == 1.5


def test_files_that_are_not_ladders_are_named(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database at all")
    with pytest.raises(LadderError, match="notes.txt: not a ladder"):
        db.open_ladder(text)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE t (x)")
    with pytest.raises(LadderError, match="other.sqlite: not a ladder"):
        db.open_ladder(other)
    with pytest.raises(LadderError, match="no such ladder"):
        db.open_ladder(tmp_path / "none.sqlite", create=False)


def test_a_newer_ladder_is_refused_and_an_older_one_migrated(tmp_path):
    newer = tmp_path / "newer.sqlite"
    db.open_ladder(newer).close()
    with sqlite3.connect(newer) as c:
        c.execute(f"PRAGMA user_version={db.SCHEMA_VERSION + 1}")
    with pytest.raises(LadderError, match="newer.sqlite: ladder schema version"):
        db.open_ladder(newer)
    old = tmp_path / "old.sqlite"
    c = sqlite3.connect(old)
    for statement in db._statements(db.MIGRATIONS[0]):
        c.execute(statement)
    c.execute(f"PRAGMA application_id={db.APPLICATION_ID}")
    c.execute("PRAGMA user_version=1")
    c.commit()
    c.close()
    conn = db.open_ladder(old)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    assert add(conn, "k1")  # the tables of later migrations are there
    conn.close()


def test_a_player_name_keeps_its_controller(tmp_path):
    conn = db.open_ladder(tmp_path / "l.sqlite")
    add(conn, "k1")
    db.check_players(conn, [Player("a", "random")])
    with pytest.raises(LadderError, match="player 'a' is already in the ladder as controller 'random'"):
        db.check_players(conn, [Player("a", "planner")])
    with pytest.raises(LadderError, match="checkpoint file changed"):
        db.check_players(conn, [Player("a", "random", "abc")])
