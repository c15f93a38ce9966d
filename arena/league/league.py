"""A league run: the schedule played round by round, each finished match into the ladder.

Before anything is played every player is checked (its name, its controller built, a
checkpoint fitted to the scenario, the ladder's record of it), so bad input fails with nothing
written. Matches are then played a batch at a time and committed one by one; a re-run with the
same arguments skips the matches already in the ladder and plays the rest, and Swiss or
matchmaking rounds pair on ratings replayed from the earlier rounds' matches in schedule order,
so a resumed league pairs as an unbroken one would have.

Each batch starts its players fresh (`arena.league.roster`), so a batch plays the same wherever
it is played. With `--ray` (`arena.league.remote`) the batches of a round are played at once by
Ray actors across a cluster, and their results are committed here, on the driver, in schedule
order as they arrive: the ladder gets the same rows and ratings as a league on one machine.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from arena.league import db, ratings, schedule
from arena.league.play import Played, num_entries, play_games, save_played
from arena.league.roster import Roster
from arena.league.schedule import Game, Pairing
from worlds.registry import make_scenario
from worlds.scenario import Scenario


@dataclass
class LeagueSpec:
    scenario: str
    players: dict[str, str]  # name -> controller spec
    config: dict | None = None
    games: int = 4  # per pairing and side
    schedule: str = "round-robin"
    rounds: int | None = None
    seed: int = 0
    batch: int = 64  # worlds stepped at once
    record_dir: str | None = None
    device: str = "auto"


def parse_players(pairs: list[str]) -> dict[str, str]:
    """`NAME=CONTROLLER` strings -> {name: spec}; a bare controller is its own name."""
    players: dict[str, str] = {}
    for pair in pairs:
        name, sep, spec = pair.partition("=")
        name, spec = (name.strip(), spec.strip()) if sep else (Path(pair).stem, pair.strip())
        if not name or not spec:
            raise ValueError(f"a player is NAME=CONTROLLER (e.g. greedy=planner), got {pair!r}")
        schedule.check_name(name)
        if name in players:
            raise ValueError(f"player {name!r} is given twice")
        players[name] = spec
    if len(players) < 2:
        raise ValueError("a league needs at least two players (--player NAME=CONTROLLER, repeated)")
    return players


def run_league(
    spec: LeagueSpec, db_path: str | Path, progress: bool = True, ray_address: str | None = None
) -> dict:
    """Plays what the ladder at `db_path` lacks of the league; returns counts and speed. With
    `ray_address` (`arena.cluster.LOCAL` for a Ray started here) the batches of matches are
    played on a Ray cluster; the ladder gets the same rows, written here in schedule order."""
    if spec.schedule not in schedule.SCHEDULES:
        raise ValueError(f"unknown schedule {spec.schedule!r}; known: {', '.join(schedule.SCHEDULES)}")
    if spec.games < 1:
        raise ValueError(f"--games must be at least 1, got {spec.games}")
    if spec.batch < 1:
        raise ValueError(f"--batch must be at least 1, got {spec.batch}")
    try:
        scenario = make_scenario(spec.scenario, **(spec.config or {}))
    except TypeError as err:
        raise ValueError(f"{spec.scenario}: {err}") from None
    if num_entries(scenario) > 2:
        raise ValueError(f"{spec.scenario} has {num_entries(scenario)} teams; leagues pair two sides")
    names = list(spec.players)
    for name in names:
        schedule.check_name(name)
    players = {n: db.Player.of(n, s) for n, s in spec.players.items()}
    roster = Roster(spec.players, scenario, spec.seed, spec.device)  # every player built: checked
    ladder = Ladder(Path(db_path))
    tables = None
    try:
        if ladder.conn is not None:
            db.check_players(ladder.conn, list(players.values()))
        if ray_address is None:
            tables = LocalTables(scenario, roster, record=spec.record_dir is not None)
        else:
            from arena.league.remote import RayTables

            tables = RayTables(ray_address, spec, record=spec.record_dir is not None)
        return _play_rounds(spec, scenario, ladder, players, tables, progress)
    finally:
        if tables is not None:
            tables.close()
        ladder.close()


class LocalTables:
    """Batches of matches played here, one after another (`arena.league.remote.RayTables`
    plays them on a Ray cluster)."""

    def __init__(self, scenario: Scenario, roster: Roster, record: bool = False):
        self.scenario, self.roster, self.record = scenario, roster, record

    def play(self, batches: list[list[Game]]) -> Iterator[list[Played]]:
        """Each batch's results, in the order of `batches`."""
        for batch in batches:
            yield play_games(self.scenario, batch, self.roster.for_batch(batch), self.record)

    def close(self) -> None:
        pass


class Ladder:
    """The ladder file, created only when the first match is written (an existing one is
    checked and opened at once)."""

    def __init__(self, path: Path):
        self.path = path
        self.conn = db.open_ladder(path) if path.exists() else None
        if self.conn is None and not path.parent.is_dir():
            raise ValueError(f"{path}: its folder {path.parent} does not exist")

    def done_keys(self, prefix: str) -> set[str]:
        return set() if self.conn is None else db.done_keys(self.conn, prefix)

    def match_rows(self, scenario: str, before_round: int) -> list[dict]:
        return [] if self.conn is None else db.match_rows(self.conn, scenario, before_round)

    def add(self, players, result, rate) -> bool:
        if self.conn is None:
            self.conn = db.open_ladder(self.path)
        return db.add_match(self.conn, players, result, rate)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def _play_rounds(spec, scenario, ladder: Ladder, players, tables, progress) -> dict:
    config = db_config(scenario)
    tag = schedule.league_tag(spec.scenario, config)
    prefix = f"{tag}/{spec.schedule}/"
    names = list(spec.players)
    rounds = (
        1
        if spec.schedule == "round-robin"
        else spec.rounds or schedule.default_rounds(spec.schedule, len(names))
    )
    sides = num_entries(scenario)
    bar = Progress(f"league {spec.scenario}", enabled=progress)
    played = skipped = 0
    start = time.perf_counter()
    for r in range(rounds):
        pairings = _pairings(spec, ladder, prefix, names, r)
        games = [
            g
            for p in pairings
            for g in schedule.games_of(tag, spec.schedule, spec.seed, p, spec.games, sides)
        ]
        done = ladder.done_keys(prefix)
        todo = [g for g in games if g.key not in done]
        skipped += len(games) - len(todo)
        bar.total += len(games)
        bar.done += len(games) - len(todo)
        for results in tables.play(batches(todo, spec.batch)):
            for result in results:  # in schedule order, so the ratings are the same everywhere
                if spec.record_dir:
                    save_played(result, Path(spec.record_dir))
                if ladder.add(players, _result(spec, config, result), _rater(result)):
                    played += 1
                bar.advance()
    bar.close()
    seconds = time.perf_counter() - start
    return {
        "played": played,
        "skipped": skipped,
        "seconds": seconds,
        "matches_per_s": played / max(seconds, 1e-9),
    }


def db_config(scenario) -> dict:
    from arena.records.record import scenario_config

    return scenario_config(scenario)


def _pairings(spec: LeagueSpec, ladder: Ladder, prefix: str, names: list[str], r: int) -> list[Pairing]:
    if spec.schedule == "round-robin":
        return schedule.round_robin(names)
    earlier = [m for m in ladder.match_rows(spec.scenario, r) if m["key"].startswith(prefix)]
    rated = ratings.replay_ratings(earlier)
    if spec.schedule == "swiss":
        met = {frozenset(m["teams"]) for m in earlier}
        return schedule.swiss_round(names, rated, met, r)
    return schedule.matchmaking_round(names, rated, spec.seed, r)


def batches(games: list[Game], size: int) -> list[list[Game]]:
    """Consecutive games of one side (same entries, seeds in a row), at most `size` each."""
    out: list[list[Game]] = []
    for g in games:
        last = out[-1] if out else None
        if last and len(last) < size and last[-1].entries == g.entries and last[-1].seed + 1 == g.seed:
            last.append(g)
        else:
            out.append([g])
    return out


def _result(spec: LeagueSpec, config: dict, played) -> db.MatchResult:
    g = played.game
    return db.MatchResult(
        key=g.key, scenario=spec.scenario, config=config, schedule=spec.schedule, round=g.round,
        game=g.game, seed=g.seed, teams=list(g.entries), ranks=played.ranks, scores=played.scores,
        returns=played.returns, outcome=played.outcome, steps=played.steps, seconds=played.seconds,
        record=played.record,
    )  # fmt: skip


def _rater(played):
    return lambda before: ratings.rate(list(played.game.entries), played.ranks, before)


class Progress:
    """A one-line progress bar on stderr: matches done of the schedule, and matches/s."""

    def __init__(self, label: str, enabled: bool = True):
        self.label, self.enabled = label, enabled
        self.total = self.done = 0
        self.fresh = 0
        self.start = time.perf_counter()
        self.shown = 0.0

    def advance(self) -> None:
        self.done += 1
        self.fresh += 1
        now = time.perf_counter()
        if now - self.shown > 0.2 or self.done == self.total:
            self.shown = now
            self._show(now)

    def _show(self, now: float) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        rate = self.fresh / max(now - self.start, 1e-9)
        bar = "#" * filled + "." * (width - filled)
        line = f"\r{self.label} [{bar}] {self.done}/{self.total} {rate:.1f} matches/s"
        print(line, end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            self._show(time.perf_counter())
            print(file=sys.stderr)
