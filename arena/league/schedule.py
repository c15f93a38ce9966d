"""Who meets whom: round-robin, Swiss and matchmaking schedules, each match's seed and key.

A pairing is two players in one round; it is played `games` times on each side (in tag the
hunters and the runners swap), and both sides play the same seeds, so neither gets the easier
maps. Everything derives from the league's `--seed`: the same command always plays the same
matches, and a match's key (scenario and config, schedule, round, players by side, game) is
its place in the schedule, so a re-run skips the keys the ladder already holds.

- round-robin: every pair of players, one round.
- swiss: `rounds` rounds; each pairs neighbours in the ladder as it stood after the previous
  rounds (best with second, third with fourth...), avoiding rematches when it can.
- matchmaking: `rounds` rounds; in each, every player draws an opponent, the ones it is most
  likely to draw with (openskill's match quality) drawn most.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from itertools import combinations, permutations

import numpy as np

SCHEDULES = ("round-robin", "swiss", "matchmaking")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+@-]{0,63}$")


@dataclass(frozen=True)
class Pairing:
    round: int
    slot: int  # the pairing's place in its round
    players: tuple[str, ...]  # in name order: sides are the permutations of these


@dataclass(frozen=True)
class Game:
    """One match of the schedule: `entries[k]` plays entry k (team k, or turn k)."""

    key: str
    round: int
    game: int
    seed: int
    entries: tuple[str, ...]


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(
            f"player name {name!r}: use letters, digits and _ . + @ - (at most 64, starting with a "
            "letter or digit)"
        )
    return name


def league_tag(scenario: str, config: dict) -> str:
    """The scenario and a short digest of its config: matches of other configs never mix."""
    text = json.dumps(config, sort_keys=True, default=str)
    return f"{scenario}#{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def base_seed(seed: int, pairing: Pairing) -> int:
    """The seed of game 0 of a pairing; game g plays base + g. Below 2**31 - 2**20, so a batch
    of consecutive games stays a plain int range."""
    words = [seed, pairing.round, pairing.slot, *(_word(p) for p in pairing.players)]
    return int(np.random.SeedSequence(words).generate_state(1)[0]) % (2**31 - 2**20)


def _word(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def sides(pairing: Pairing, num_sides: int) -> list[tuple[str, ...]]:
    """The entry orders played: every permutation in a team game, one in a game of turns (a
    score race on the same seeds has no sides)."""
    return list(permutations(pairing.players)) if num_sides > 1 else [pairing.players]


def games_of(tag: str, schedule: str, seed: int, pairing: Pairing, games: int, num_sides: int) -> list[Game]:
    base = base_seed(seed, pairing)
    out = []
    for entries in sides(pairing, num_sides):
        for g in range(games):
            key = f"{tag}/{schedule}/r{pairing.round}.{pairing.slot}/{'-vs-'.join(entries)}/g{g}"
            out.append(Game(key, pairing.round, g, base + g, tuple(entries)))
    return out


def round_robin(players: list[str]) -> list[Pairing]:
    return [Pairing(0, k, tuple(sorted(pair))) for k, pair in enumerate(combinations(players, 2))]


def swiss_round(
    players: list[str], ratings: dict[str, tuple[float, float]], met: set, r: int
) -> list[Pairing]:
    """Neighbours by conservative rating (new players in the given order); a player already met
    is skipped for the next one down when another is free. An odd player out sits the round out."""
    from arena.league.ratings import MU, SIGMA, conservative

    order = sorted(players, key=lambda p: (-conservative(*ratings.get(p, (MU, SIGMA))), players.index(p)))
    pairings, free = [], list(order)
    while len(free) >= 2:
        top = free.pop(0)
        fresh = [p for p in free if frozenset((top, p)) not in met]
        other = (fresh or free)[0]
        free.remove(other)
        pairings.append(Pairing(r, len(pairings), tuple(sorted((top, other)))))
    return pairings


def matchmaking_round(players: list[str], ratings: dict, seed: int, r: int) -> list[Pairing]:
    """Every player draws one opponent, weighted by openskill's draw probability (match quality)."""
    from arena.league.ratings import MODEL, MU, SIGMA

    rng = np.random.default_rng([seed, r, 7])
    pairings = []
    for k, p in enumerate(players):
        others = [q for q in players if q != p]
        me = MODEL.rating(*ratings.get(p, (MU, SIGMA)))
        quality = np.array(
            [MODEL.predict_draw([[me], [MODEL.rating(*ratings.get(q, (MU, SIGMA)))]]) for q in others]
        )
        other = others[int(rng.choice(len(others), p=quality / quality.sum()))]
        pairings.append(Pairing(r, k, tuple(sorted((p, other)))))
    return pairings


def default_rounds(schedule: str, num_players: int) -> int:
    if schedule == "round-robin":
        return 1
    return max(3, int(np.ceil(np.log2(max(num_players, 2)))) + 1)
