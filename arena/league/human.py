"""Games played in the viewer, into the ladder: `arena play SCENARIO --ladder FILE --name NAME`.

Each team is one entry of the match. The team a person plays on is the player `--name` (its
machine teammates, if any, play under that name too); every other team is the player its
controller names: `planner`, `random`, a checkpoint by its file name, or `planner+random` when
seats of one team differ. Every finished episode (not one left midway) is one match, rated at once.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from agents.human import Human
from arena.league import db, ratings, schedule
from arena.league.play import num_entries, outcome_words, team_ranks
from arena.records.record import scenario_config


class LadderRecorder:
    """Watches a `Match` in the viewer and writes each finished episode to the ladder."""

    def __init__(self, path: str | Path, name: str, match):
        self.path, self.name = Path(path), schedule.check_name(name)
        scenario = match.scenario
        if num_entries(scenario) < 2:
            raise ValueError(f"--ladder: {scenario.name} has one team; a ladder game needs two sides")
        self.players = self._players(match)
        humans = [p for p in self.players if p.spec == "human"]
        if len(humans) != 1:
            raise ValueError("--ladder records a game with human seats on exactly one team")
        if Path(path).exists():  # a bad ladder fails before the game, not after it
            conn = db.open_ladder(self.path)
            try:
                db.check_players(conn, self.players)
            finally:
                conn.close()
        self.recorded = None  # the EpisodeLog of the last episode written
        self.started, self.start = None, time.perf_counter()  # the episode being timed
        self.written: list[str] = []

    def _players(self, match) -> list[db.Player]:
        scenario, seating = match.scenario, match.seating
        out = []
        for team in range(num_entries(scenario)):
            seats = [seating.seat_of(i) for i in range(scenario.num_agents) if scenario.teams[i] == team]
            if any(isinstance(s.controller, Human) for s in seats):
                out.append(db.Player(self.name, "human"))
                continue
            specs = sorted({s.spec for s in seats})
            name = "+".join(Path(s).stem if Path(s).is_file() else s.replace(":", "_") for s in specs)
            out.append(db.Player.of(schedule.check_name(name), "+".join(specs)))
        return out

    def update(self, match) -> str | None:
        """After each viewer frame: writes the episode once it has finished; returns its key."""
        if match.log is not self.started:
            self.started, self.start = match.log, time.perf_counter()
        if match.env.agents or match.log is self.recorded or match.steps == 0:
            return None
        self.recorded = match.log
        scenario = match.scenario
        team_returns = list(match.team_returns().values())
        ranks = team_ranks(scenario, team_returns, match.success())
        names = [p.name for p in self.players]
        returns = [
            [float(match.returns[i]) for i in range(scenario.num_agents) if scenario.teams[i] == team]
            for team in range(len(names))
        ]
        result = db.MatchResult(
            key=f"human/{scenario.name}/{uuid.uuid4().hex}",
            scenario=scenario.name,
            config=scenario_config(scenario),
            schedule="human",
            round=0,
            game=0,
            seed=int(match.seed),
            teams=names,
            ranks=ranks,
            scores=team_returns,
            returns=returns,
            outcome=outcome_words(scenario, names, ranks, team_returns),
            steps=int(match.steps),
            seconds=time.perf_counter() - self.start,
        )
        conn = db.open_ladder(self.path)
        try:
            db.add_match(
                conn, {p.name: p for p in self.players}, result, lambda b: ratings.rate(names, ranks, b)
            )
        finally:
            conn.close()
        self.written.append(result.key)
        print(f"ladder {self.path}: {result.outcome}", flush=True)
        return result.key
