"""Schedules: round-robin covers every pairing and side on shared seeds, Swiss pairs
neighbours and avoids rematches, matchmaking is seeded, keys are unique."""

from __future__ import annotations

import pytest

from arena.league import schedule
from arena.league.league import batches, parse_players
from arena.league.schedule import Pairing

TAG = schedule.league_tag("tag_v0", {"size": 7})


def test_round_robin_covers_every_pairing_on_both_sides_with_the_same_seeds():
    players = ["a", "b", "c", "d"]
    pairings = schedule.round_robin(players)
    assert {frozenset(p.players) for p in pairings} == {
        frozenset((x, y)) for x in players for y in players if x < y
    }
    games = [g for p in pairings for g in schedule.games_of(TAG, "round-robin", 0, p, 3, num_sides=2)]
    assert len(games) == 6 * 2 * 3
    assert len({g.key for g in games}) == len(games)
    assert {g.entries for g in games} == {(x, y) for x in players for y in players if x != y}
    for p in pairings:  # both sides of a pairing play the same maps
        ab, ba = (sorted(g.seed for g in games if g.entries == side) for side in (p.players, p.players[::-1]))
        assert ab == ba and len(set(ab)) == 3


def test_a_game_of_turns_has_one_side_and_seeds_follow_the_league_seed():
    p = Pairing(0, 0, ("a", "b"))
    assert [g.entries for g in schedule.games_of(TAG, "round-robin", 0, p, 2, num_sides=1)] == [
        ("a", "b")
    ] * 2
    same = schedule.games_of(TAG, "round-robin", 0, p, 2, 2)
    assert same == schedule.games_of(TAG, "round-robin", 0, p, 2, 2)
    assert [g.seed for g in same] != [g.seed for g in schedule.games_of(TAG, "round-robin", 1, p, 2, 2)]


def test_swiss_pairs_neighbours_in_the_ladder_and_avoids_rematches():
    ratings = {"a": (40.0, 1.0), "b": (30.0, 1.0), "c": (20.0, 1.0), "d": (10.0, 1.0)}
    pairs = [p.players for p in schedule.swiss_round(["d", "c", "b", "a"], ratings, set(), 1)]
    assert pairs == [("a", "b"), ("c", "d")]
    met = {frozenset(("a", "b"))}
    pairs = [p.players for p in schedule.swiss_round(["d", "c", "b", "a"], ratings, met, 2)]
    assert pairs == [("a", "c"), ("b", "d")]
    odd = schedule.swiss_round(["a", "b", "c"], ratings, set(), 0)
    assert [p.players for p in odd] == [("a", "b")]  # c sits the round out


def test_matchmaking_is_seeded_and_prefers_close_opponents():
    players = ["a", "b", "c"]
    ratings = {"a": (40.0, 1.0), "b": (39.0, 1.0), "c": (5.0, 1.0)}
    one = schedule.matchmaking_round(players, ratings, seed=3, r=0)
    assert one == schedule.matchmaking_round(players, ratings, seed=3, r=0)
    assert len(one) == 3 and all(len(set(p.players)) == 2 for p in one)
    many = [p.players for r in range(20) for p in schedule.matchmaking_round(players, ratings, 0, r)]
    assert many.count(("a", "b")) > many.count(("a", "c"))


def test_batches_hold_one_side_with_consecutive_seeds():
    p = Pairing(0, 0, ("a", "b"))
    games = schedule.games_of(TAG, "round-robin", 0, p, 5, 2)
    out = batches([g for g in games if g.game != 2], size=2)
    for batch in out:
        assert len({g.entries for g in batch}) == 1
        assert [g.seed for g in batch] == list(range(batch[0].seed, batch[0].seed + len(batch)))
    assert sum(len(b) for b in out) == 8 and max(len(b) for b in out) == 2


@pytest.mark.parametrize(
    ("pairs", "words"),
    [
        (["a=planner"], "at least two"),
        (["a=planner", "a=random"], "given twice"),
        (["a b=planner", "c=random"], "player name"),
        (["=planner", "c=random"], "NAME=CONTROLLER"),
    ],
)
def test_bad_player_lists_are_named(pairs, words):
    with pytest.raises(ValueError, match=words):
        parse_players(pairs)
