"""kill -9 in the middle of a league (a real `arena league` process), then the same command
again: every finished match is in the ladder once, the schedule is complete, and SQLite finds
the file intact."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GAMES = 60  # per side: 120 matches, committed two at a time


def league_args(db: Path) -> list[str]:
    return [
        sys.executable, "-m", "arena.cli", "league", "tag_v0", "--player", "greedy=planner",
        "--player", "rand=random", "--games", str(GAMES), "--batch", "2", "--db", str(db),
        "--config", "size=7", "--quiet",
    ]  # fmt: skip


def finished(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return c.execute("SELECT count(*) FROM matches").fetchone()[0]
    except sqlite3.OperationalError:  # the tables are being created
        return 0


@pytest.mark.slow
def test_a_league_killed_mid_run_resumes_without_duplicates(tmp_path):
    db = tmp_path / "arena.sqlite"
    proc = subprocess.Popen(league_args(db), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while finished(db) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, f"the league ended before it could be killed: {proc.stderr.read()!r}"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before = finished(db)
    assert 4 <= before < 2 * GAMES
    done = subprocess.run(league_args(db), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{2 * GAMES - before} matches played, {before} already in" in done.stdout
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("SELECT count(*), count(DISTINCT key) FROM matches").fetchone() == (
            2 * GAMES,
            2 * GAMES,
        )
        assert c.execute("SELECT count(DISTINCT match_id) FROM ratings").fetchone()[0] == 2 * GAMES
        games = c.execute("SELECT teams, game FROM matches").fetchall()
    assert sorted(games) == sorted(
        (t, g) for t in ('["greedy", "rand"]', '["rand", "greedy"]') for g in range(GAMES)
    )
