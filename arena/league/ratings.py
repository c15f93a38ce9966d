"""Ratings: openskill's Weng-Lin Bayesian ratings (Plackett-Luce model), the ladder table and
head-to-head win rates.

Each player has a skill estimate `mu` and an uncertainty `sigma` per scenario; a match with
ranked entries (two teams in tag, several players in a free-for-all, equal ranks for a draw)
moves both. The ladder orders players by the conservative rating `mu - 3 sigma`: with ~99.7%
belief the skill is above it, so a player who played little does not top the table by luck.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass

from openskill.models import PlackettLuce

from arena.league import db

MODEL = PlackettLuce()  # mu 25, sigma 25/3, beta 25/6: openskill's defaults
MU, SIGMA = MODEL.mu, MODEL.sigma


def rate(teams: list[str], ranks: list[int], before: dict[str, tuple[float, float] | None]) -> dict:
    """New (mu, sigma) of every player of a match, from their ratings before it (None: new).
    A player in two entries (a free-for-all of one against itself) is not possible here."""
    ratings = [[MODEL.rating(*(before.get(name) or (MU, SIGMA)), name=name)] for name in teams]
    new = MODEL.rate(ratings, ranks=list(ranks))
    return {name: (team[0].mu, team[0].sigma) for name, team in zip(teams, new, strict=True)}


def replay_ratings(matches: list[dict]) -> dict[str, tuple[float, float]]:
    """Ratings from scratch over `matches` in the given order (Swiss and matchmaking pair on
    these, so a resumed league pairs exactly as an unbroken one)."""
    ratings: dict[str, tuple[float, float]] = {}
    for m in matches:
        ratings |= rate(m["teams"], m["ranks"], ratings)
    return ratings


def conservative(mu: float, sigma: float) -> float:
    return mu - 3 * sigma


@dataclass
class LadderRow:
    rank: int
    player: str
    spec: str
    mu: float
    sigma: float
    rating: float  # mu - 3 sigma
    games: int
    wins: float  # a draw counts half
    win_rate: float
    scenario: str

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def ladder(conn: sqlite3.Connection, scenario: str) -> list[LadderRow]:
    """The table of one scenario, best conservative rating first."""
    latest = db.latest_ratings(conn, scenario)
    specs = dict(conn.execute("SELECT name, spec FROM players"))
    games: dict[str, int] = dict.fromkeys(latest, 0)
    wins: dict[str, float] = dict.fromkeys(latest, 0.0)
    for m in db.match_rows(conn, scenario):
        for name, rank in zip(m["teams"], m["ranks"], strict=True):
            games[name] = games.get(name, 0) + 1
            wins[name] = wins.get(name, 0.0) + _score(rank, m["ranks"])
    rows = [(name, mu, sigma, conservative(mu, sigma)) for name, (mu, sigma) in latest.items()]
    rows.sort(key=lambda r: (-r[3], r[0]))
    return [
        LadderRow(
            k + 1,
            name,
            specs.get(name, "?"),
            mu,
            sigma,
            rating,
            games[name],
            wins[name],
            wins[name] / games[name] if games[name] else 0.0,
            scenario,
        )  # fmt: skip
        for k, (name, mu, sigma, rating) in enumerate(rows)
    ]


def _score(rank: int, ranks: list[int]) -> float:
    """A result as a share of a win against the rest of the entries: 1 best alone, 0 worst
    alone, draws between (two equal entries: 0.5 each)."""
    others = len(ranks) - 1
    if not others:
        return 0.0
    beaten = sum(r > rank for r in ranks)
    tied = sum(r == rank for r in ranks) - 1
    return (beaten + 0.5 * tied) / others


def head_to_head(conn: sqlite3.Connection, scenario: str) -> tuple[list[str], list[list[float | None]], list]:
    """(players, win rate of row player against column player, games played): a draw counts
    half; None where the two never met."""
    players = [row.player for row in ladder(conn, scenario)]
    index = {p: k for k, p in enumerate(players)}
    n = len(players)
    won = [[0.0] * n for _ in range(n)]
    played = [[0] * n for _ in range(n)]
    for m in db.match_rows(conn, scenario):
        for a, ra in zip(m["teams"], m["ranks"], strict=True):
            for b, rb in zip(m["teams"], m["ranks"], strict=True):
                if a == b or a not in index or b not in index:
                    continue
                i, j = index[a], index[b]
                played[i][j] += 1
                won[i][j] += 1.0 if ra < rb else 0.5 if ra == rb else 0.0
    rates = [[won[i][j] / played[i][j] if played[i][j] else None for j in range(n)] for i in range(n)]
    return players, rates, played


def history(conn: sqlite3.Connection, scenario: str) -> dict[str, list[tuple[int, float, float]]]:
    """Each player's (match number in the scenario, mu, sigma) after every match it played."""
    rows = conn.execute(
        """SELECT p.name, m.id, r.mu, r.sigma FROM ratings r JOIN players p ON p.id = r.player_id
           JOIN matches m ON m.id = r.match_id WHERE r.scenario=? ORDER BY r.id""",
        (scenario,),
    )
    numbers: dict[int, int] = {}
    out: dict[str, list[tuple[int, float, float]]] = {}
    for name, match_id, mu, sigma in rows:
        number = numbers.setdefault(match_id, len(numbers) + 1)
        out.setdefault(name, []).append((number, mu, sigma))
    return out
