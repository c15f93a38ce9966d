"""Ladder evaluation of a two-team population: members play each other, openskill rates them.

In a scenario of two learning teams (tag_v0, flags_v0) a member's score is no fixed number but
its strength against the rest of the population. After each interval every member plays every
other, `games` matches on each side (first team at home, second away), all pairings on the
same seeds `seed + g`; the matches are played by the league's batch player
(`arena.league.play.play_games`) and rated, in a fixed order, by the league's openskill
ratings (`arena.league.ratings`), from scratch each interval: the members' weights have moved
since the last one. A member's score is its conservative rating mu - 3 sigma.

Each member plays its home games where it lives (a Ray actor or this process), with copies of
the other members' learners rebuilt from their weights; every learner samples from a generator
seeded by the pairing, so the same weights always play the same matches.
"""

from __future__ import annotations

import numpy as np

from arena.league import ratings
from arena.league.play import play_games
from arena.league.schedule import Game


class Greedy:
    """A learner that plays its greedy action (`--eval-greedy`)."""

    def __init__(self, learner):
        self.learner = learner

    def act(self, obs):
        return self.learner.act(obs, explore=False)


def pairing_seed(seed: int, home: str, away: str, side: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, *map(ord, home), 0, *map(ord, away), side])


def team_of(payloads: dict, scenario, seed: int, home: str, away: str, side: int, device, explore: bool):
    """A member's learners by team, rebuilt from their weights, sampling from the pairing's
    generator."""
    from arena.population.member import rebuild

    team = {}
    for name, payload in payloads.items():
        learner = rebuild(payload, scenario, device)
        learner.rng = np.random.default_rng(pairing_seed(seed, home, away, side))
        team[name] = learner if explore else Greedy(learner)
    return team


def home_games(
    scenario, home: str, everyone: dict[str, dict], games: int, seed: int, device, explore: bool = True
) -> list[dict]:
    """`home` as the first team against each other member of `everyone` (member name ->
    learners' weights by team) as the second: `games` matches each, on worlds `seed + g`.
    Results in order of opponent name, then game: {"teams", "ranks", "scores"}."""
    results = []
    for away in sorted(name for name in everyone if name != home):
        controllers = {
            home: team_of(everyone[home], scenario, seed, home, away, 0, device, explore),
            away: team_of(everyone[away], scenario, seed, home, away, 1, device, explore),
        }
        batch = [Game(f"{home}-{away}/{g}", 0, g, seed + g, (home, away)) for g in range(games)]
        for played in play_games(scenario, batch, controllers):
            results.append({"teams": [home, away], "ranks": played.ranks, "scores": played.scores})
    return results


def rate(members: list[str], results: list[dict]) -> dict[str, dict]:
    """Each member's openskill rating over `results` (in their order, from scratch), its
    conservative rating mu - 3 sigma, games and win rate (a draw counts half)."""
    rated = ratings.replay_ratings(results)
    games = dict.fromkeys(members, 0)
    wins = dict.fromkeys(members, 0.0)
    for match in results:
        best = min(match["ranks"])
        tied = match["ranks"].count(best) > 1
        for name, rank in zip(match["teams"], match["ranks"], strict=True):
            games[name] += 1
            wins[name] += (0.5 if tied else 1.0) if rank == best else 0.0
    out = {}
    for name in members:
        mu, sigma = rated.get(name, (ratings.MU, ratings.SIGMA))
        out[name] = {
            "rating": ratings.conservative(mu, sigma),
            "mu": mu,
            "sigma": sigma,
            "games": games[name],
            "win_rate": wins[name] / games[name] if games[name] else 0.0,
        }
    return out
