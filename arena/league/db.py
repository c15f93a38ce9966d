"""The ladder file: an embedded SQLite database of players, matches and rating history.

One file (`arena.sqlite` by default) in WAL mode. It says what it is with `PRAGMA
application_id` and its schema version with `PRAGMA user_version`; opening runs the migrations
it lacks and refuses a file that is not a ladder or is newer than this code. Every match is
written in one transaction (the match, its players on first appearance and their new ratings),
so a killed league loses only the matches in flight, and `matches.key` is UNIQUE, so a re-run
skips what is done instead of playing it twice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

APPLICATION_ID = 0x47524C44  # "GRLD": a grid-arena ladder
DEFAULT_DB = "arena.sqlite"

# Migration k brings a ladder from version k to k + 1; never edit one that has shipped.
MIGRATIONS = (
    """
    CREATE TABLE players (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        spec TEXT NOT NULL,              -- random, planner, lm:MODEL, a checkpoint path, human
        checkpoint_sha256 TEXT,          -- of the checkpoint file, when the spec is one
        created REAL NOT NULL
    );
    CREATE TABLE matches (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,        -- schedule position: a re-run skips keys already here
        scenario TEXT NOT NULL,
        config TEXT NOT NULL,            -- JSON: the scenario's config
        schedule TEXT NOT NULL,          -- round-robin | swiss | matchmaking | human
        round INTEGER NOT NULL,
        game INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        teams TEXT NOT NULL,             -- JSON: the player of each entry, in entry order
        ranks TEXT NOT NULL,             -- JSON: each entry's rank, 0 best; equal ranks are a draw
        scores TEXT NOT NULL,            -- JSON: each entry's team return
        returns TEXT NOT NULL,           -- JSON: per entry, each agent's return
        outcome TEXT NOT NULL,
        steps INTEGER NOT NULL,
        seconds REAL NOT NULL,           -- wall time, a batch's share when played in one
        record TEXT,                     -- the record file (arena replay), if saved
        finished REAL NOT NULL
    );
    CREATE TABLE ratings (
        id INTEGER PRIMARY KEY,
        match_id INTEGER NOT NULL REFERENCES matches(id),
        player_id INTEGER NOT NULL REFERENCES players(id),
        scenario TEXT NOT NULL,
        mu REAL NOT NULL,
        sigma REAL NOT NULL
    );
    """,
    """
    CREATE TABLE match_players (
        match_id INTEGER NOT NULL REFERENCES matches(id),
        player_id INTEGER NOT NULL REFERENCES players(id),
        entry INTEGER NOT NULL,
        rank INTEGER NOT NULL,
        PRIMARY KEY (match_id, entry)
    );
    CREATE INDEX ratings_by_player ON ratings(scenario, player_id, id);
    CREATE INDEX matches_by_scenario ON matches(scenario, id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class LadderError(ValueError):
    """A file that is not a ladder, a newer one, or a player that clashes with the ladder's."""


@dataclass(frozen=True)
class Player:
    name: str
    spec: str
    checkpoint_sha256: str | None = None

    @classmethod
    def of(cls, name: str, spec: str) -> Player:
        """With the sha256 of its checkpoint file (of its files, one per team, hashed together)."""
        parts = [part.partition("=")[2] if "=" in part else part for part in spec.split(",")]
        files = [Path(p) for p in parts if p not in ("random", "planner") and Path(p).is_file()]
        if not files:
            return cls(name, spec)
        if len(files) == 1 and len(parts) == 1:
            return cls(name, spec, file_sha256(files[0]))
        joined = ",".join(file_sha256(f) for f in files)
        return cls(name, spec, hashlib.sha256(joined.encode()).hexdigest())


@dataclass
class MatchResult:
    """One finished match, ready for the ladder."""

    key: str
    scenario: str
    config: dict
    schedule: str
    round: int
    game: int
    seed: int
    teams: list[str]  # the player of each entry
    ranks: list[int]
    scores: list[float]
    returns: list[list[float]]
    outcome: str
    steps: int
    seconds: float
    record: str | None = None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def open_ladder(path: str | Path, create: bool = True) -> sqlite3.Connection:
    """The ladder at `path`, migrated to this code's schema; a new one if there is none (with
    `create`). A LadderError names the file when it is not a ladder or is newer."""
    path = Path(path)
    if not path.exists() and not create:
        raise LadderError(f"{path}: no such ladder (arena league writes one)")
    if path.exists() and path.stat().st_size > 0:
        with open(path, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                raise LadderError(f"{path}: not a ladder (not an SQLite database)")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    try:
        _check_and_migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _check_and_migrate(conn: sqlite3.Connection, path: Path) -> None:
    try:
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as err:
        raise LadderError(f"{path}: not a ladder ({err})") from None
    if app != APPLICATION_ID and (tables or app):
        raise LadderError(f"{path}: not a ladder (an SQLite database of something else)")
    if version > SCHEMA_VERSION:
        raise LadderError(
            f"{path}: ladder schema version {version} is newer than this code's {SCHEMA_VERSION}: "
            "upgrade grid-arena"
        )
    conn.execute("PRAGMA journal_mode=WAL")
    # WAL with synchronous NORMAL: a commit survives the process being killed (kill -9); only a
    # power cut may lose the last commits, never corrupt the file. FULL would fsync every match.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    if version == SCHEMA_VERSION:
        return
    with conn:  # all migrations, and the version stamp, in one transaction
        conn.execute("BEGIN IMMEDIATE")
        for script in MIGRATIONS[version:]:
            for statement in _statements(script):
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _statements(script: str) -> list[str]:
    """A migration script's statements (executescript would commit the open transaction)."""
    lines = [line.split("--")[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def check_players(conn: sqlite3.Connection, players: list[Player]) -> None:
    """A player already in the ladder must be the same controller (same spec and checkpoint)."""
    for p in players:
        row = conn.execute("SELECT spec, checkpoint_sha256 FROM players WHERE name=?", (p.name,)).fetchone()
        if row and (row[0], row[1]) != (p.spec, p.checkpoint_sha256):
            what = "checkpoint file changed" if row[0] == p.spec else f"controller {row[0]!r}"
            raise LadderError(
                f"player {p.name!r} is already in the ladder as {what}; give {p.spec!r} another name"
            )


def done_keys(conn: sqlite3.Connection, prefix: str = "") -> set[str]:
    rows = conn.execute("SELECT key FROM matches WHERE key LIKE ? ESCAPE '\\'", (_like(prefix) + "%",))
    return {key for (key,) in rows}


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def player_id(conn: sqlite3.Connection, player: Player) -> int:
    row = conn.execute("SELECT id FROM players WHERE name=?", (player.name,)).fetchone()
    if row:
        return row[0]
    cur = conn.execute(
        "INSERT INTO players(name, spec, checkpoint_sha256, created) VALUES (?, ?, ?, ?)",
        (player.name, player.spec, player.checkpoint_sha256, time.time()),
    )
    return cur.lastrowid


def latest_ratings(conn: sqlite3.Connection, scenario: str) -> dict[str, tuple[float, float]]:
    """Each player's newest (mu, sigma) in `scenario`."""
    rows = conn.execute(
        """SELECT p.name, r.mu, r.sigma FROM ratings r JOIN players p ON p.id = r.player_id
           WHERE r.id IN (SELECT max(id) FROM ratings WHERE scenario=? GROUP BY player_id)""",
        (scenario,),
    )
    return {name: (mu, sigma) for name, mu, sigma in rows}


def _latest(conn: sqlite3.Connection, scenario: str, player: int) -> tuple[float, float] | None:
    row = conn.execute(
        "SELECT mu, sigma FROM ratings WHERE scenario=? AND player_id=? ORDER BY id DESC LIMIT 1",
        (scenario, player),
    ).fetchone()
    return tuple(row) if row else None


def add_match(conn: sqlite3.Connection, players: dict[str, Player], result: MatchResult, rate) -> bool:
    """Writes a finished match, its new players and their new ratings in one transaction.
    `rate(before: dict name -> (mu, sigma) | None) -> dict name -> (mu, sigma)`. False when
    the key is already in the ladder (nothing is written then)."""
    with conn:
        conn.execute("BEGIN IMMEDIATE")  # read the ratings and write the new ones atomically
        if conn.execute("SELECT 1 FROM matches WHERE key=?", (result.key,)).fetchone():
            return False
        ids = {name: player_id(conn, players[name]) for name in dict.fromkeys(result.teams)}
        before = {name: _latest(conn, result.scenario, i) for name, i in ids.items()}
        cur = conn.execute(
            """INSERT INTO matches(key, scenario, config, schedule, round, game, seed, teams, ranks,
               scores, returns, outcome, steps, seconds, record, finished)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                result.key, result.scenario, json.dumps(result.config, sort_keys=True), result.schedule,
                result.round, result.game, result.seed, json.dumps(result.teams), json.dumps(result.ranks),
                json.dumps(result.scores), json.dumps(result.returns), result.outcome, result.steps,
                result.seconds, result.record, time.time(),
            ),
        )  # fmt: skip
        match_id = cur.lastrowid
        for entry, (name, rank) in enumerate(zip(result.teams, result.ranks, strict=True)):
            conn.execute(
                "INSERT INTO match_players(match_id, player_id, entry, rank) VALUES (?, ?, ?, ?)",
                (match_id, ids[name], entry, rank),
            )
        after = rate(before)
        for name, (mu, sigma) in after.items():
            conn.execute(
                "INSERT INTO ratings(match_id, player_id, scenario, mu, sigma) VALUES (?, ?, ?, ?, ?)",
                (match_id, ids[name], result.scenario, mu, sigma),
            )
    return True


def scenarios(conn: sqlite3.Connection) -> list[str]:
    return [s for (s,) in conn.execute("SELECT DISTINCT scenario FROM matches ORDER BY scenario")]


def match_rows(conn: sqlite3.Connection, scenario: str, before_round: int | None = None) -> list[dict]:
    """The scenario's matches (teams, ranks) in a fixed order: round, then key."""
    sql = "SELECT key, round, teams, ranks FROM matches WHERE scenario=?"
    args: tuple = (scenario,)
    if before_round is not None:
        sql += " AND round < ?"
        args += (before_round,)
    rows = conn.execute(sql + " ORDER BY round, key", args)
    return [{"key": k, "round": r, "teams": json.loads(t), "ranks": json.loads(rk)} for k, r, t, rk in rows]
