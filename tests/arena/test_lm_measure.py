"""The measurement commands' pieces: rounds tell every world's outcome to the seats that learn
from episodes, standard errors over tasks, recall options checked, the subcommands registered."""

from __future__ import annotations

import math

import numpy as np
import pytest

import worlds
from agents.planners import make_planner
from arena.lm.memory import recall_options
from arena.lm.trials import play_round, summary, team_seats


class Listening:
    """The planner, noting every `episode_over` it is told."""

    def __init__(self, scenario):
        self.planner = make_planner(scenario, 0)
        self.name = "listening"
        self.heard = []

    def act(self, obs):
        return self.planner.act(obs)

    def episode_over(self, world, success, steps, returns):
        self.heard.append((world, success, steps, returns))


def test_a_round_tells_each_world_how_its_episode_went():
    scenario = worlds.make_scenario("tag_v0", size=7, max_cycles=20)
    seat = Listening(scenario)
    seats = team_seats(scenario, seat, seed=0)
    hunters = [i for i in range(scenario.num_agents) if scenario.teams[i] == 0]
    assert seats[0][0] == hunters and len(seats) == 2  # the hunters; the planner runs
    played = play_round(scenario, seats, 4, seed=3)
    assert sorted(w for w, *_ in seat.heard) == [0, 1, 2, 3]  # once per world
    for world, success, steps, returns in seat.heard:
        assert success == played["success"][world] and steps == played["length"][world]
        assert list(returns) == hunters
        assert np.mean(list(returns.values())) == pytest.approx(played["return"][world])


def test_summary_is_the_mean_and_its_standard_error_over_tasks():
    mean, se = summary([0.0, 1.0, 0.5, 0.5])
    assert mean == 0.5 and se == pytest.approx(np.std([0, 1, 0.5, 0.5], ddof=1) / 2)
    assert math.isnan(summary([0.3])[1])


def test_recall_options_are_checked():
    assert recall_options(["k=4", "weight=0.25"]) == {"k": 4, "weight": 0.25}
    with pytest.raises(ValueError, match="--hp takes k="):
        recall_options(["lr=3"])
    with pytest.raises(ValueError, match="weight must be a float"):
        recall_options(["weight=much"])


def test_the_subcommands_are_registered():
    from arena.cli import main

    with pytest.raises(SystemExit) as done:
        main(["lm", "memory", "--help"])
    assert done.value.code == 0
    with pytest.raises(SystemExit) as done:
        main(["lm", "talk", "--help"])
    assert done.value.code == 0
