"""Entering `arena lm eval` results into the league's ladder (`arena/league`'s SQLite file).

Every evaluated episode is a match, judged as the league judges it (`arena.league.play`):

- a scenario of two teams (tag, flags): the evaluated player on the first team against the
  `planner` player on the other, ranked by the scenario's winner rule (tag: the hunters win when
  every runner is caught) or the team returns;
- a scenario of one team: a score race on the same seed, the evaluated player's team return
  against the `planner`'s and against `random`'s (both measured on those seeds as baselines).

Matches go in through `arena.league.db.add_match` with openskill ratings (`ratings.rate`), one
transaction each, under keys `TAG/lm-eval/s<first seed>/<name>-vs-<other>/g<episode>`, so
entering the same evaluation again adds nothing.
"""

from __future__ import annotations

from pathlib import Path

from arena.league import db, ratings, schedule
from arena.league.play import dense_ranks, num_entries, outcome_words, team_agents, team_ranks
from arena.lm.eval import Episodes, ScenarioResult
from arena.records.record import scenario_config

SCHEDULE = "lm-eval"


def enter(path: str | Path, name: str, spec: str, results: list[ScenarioResult]) -> dict:
    """Write every played episode of `results` as ladder matches of player `name` (`spec`);
    returns {"added": n, "skipped": k, "scenarios": [...]}."""
    schedule.check_name(name)
    for other in ("planner", "random"):
        if name == other:
            raise ValueError(f"--name {name!r} is the name of a baseline player; choose another")
    players = {name: db.Player.of(name, spec), "planner": db.Player("planner", "planner")}
    players["random"] = db.Player("random", "random")
    played = [r for r in results if r.played is not None]
    conn = db.open_ladder(path)
    added = skipped = 0
    try:
        db.check_players(conn, list(players.values()))
        for result in played:
            for match in matches(name, result):
                rate = _rater(match)
                if db.add_match(conn, players, match, rate):
                    added += 1
                else:
                    skipped += 1
    finally:
        conn.close()
    return {"added": added, "skipped": skipped, "scenarios": sorted({r.scenario.name for r in played})}


def matches(name: str, result: ScenarioResult) -> list[db.MatchResult]:
    """The ladder matches of one evaluated scenario."""
    scenario, lm = result.scenario, result.played
    config = scenario_config(scenario)
    tag = schedule.league_tag(scenario.name, config)
    seconds = result.report.get("seconds", 0.0) / max(len(lm.success), 1)
    out = []
    if num_entries(scenario) > 1:
        for b in range(len(lm.success)):
            returns = [lm.returns[b, team_agents(scenario, k)].tolist() for k in range(num_entries(scenario))]
            scores = [float(sum(r)) for r in returns]
            ranks = team_ranks(scenario, scores, bool(lm.success[b]))
            out.append(_match(tag, result, config, b, [name, "planner"], ranks, scores, returns, seconds))
        return out
    for other in ("planner", "random"):
        base: Episodes = result.baselines[other]
        for b in range(len(lm.success)):
            returns = [lm.returns[b].tolist(), base.returns[b].tolist()]
            scores = [float(lm.score[b]), float(base.score[b])]
            entries = [name, other]
            steps = int(max(lm.length[b], base.length[b]))
            out.append(
                _match(tag, result, config, b, entries, dense_ranks(scores), scores, returns, seconds, steps)
            )
    return out


def _match(tag, result, config, b, entries, ranks, scores, returns, seconds, steps=None) -> db.MatchResult:
    scenario = result.scenario
    return db.MatchResult(
        key=f"{tag}/{SCHEDULE}/s{result.seed}/{entries[0]}-vs-{entries[1]}/g{b}",
        scenario=scenario.name, config=config, schedule=SCHEDULE, round=0, game=b, seed=result.seed + b,
        teams=list(entries), ranks=ranks, scores=scores, returns=returns,
        outcome=outcome_words(scenario, entries, ranks, scores),
        steps=int(result.played.length[b]) if steps is None else steps, seconds=seconds,
    )  # fmt: skip


def _rater(match: db.MatchResult):
    return lambda before: ratings.rate(match.teams, match.ranks, before)
