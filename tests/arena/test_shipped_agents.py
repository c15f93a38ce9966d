"""The shipped checkpoints of the two-role and two-sided scenarios play their part: signal_v0's
speaker talks as the planner does, each flags_v0 team beats random rivals (seeded evaluations,
so the figures are fixed for the shipped weights; the commands that trained them are on the
scenarios' pages)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agents.registry import load_controller
from arena.training.loop import evaluate, parse_scenario
from worlds.batch import BatchEnv

SHIPPED = Path(__file__).resolve().parents[2] / "assets" / "checkpoints"


def test_the_shipped_signal_speaker_talks_as_well_as_the_planner():
    """signal_v0's shipped PPO speaker (trained against the frozen shipped listener, see
    docs/scenarios/signal_v0.md) names the target in the words the planner uses: the shipped
    listener and the planned one both find it far more often than after a random speaker."""
    from agents.random_agent import RandomAgent
    from arena.training.loop import Seat

    sc = parse_scenario("signal_v0")
    speaker = load_controller(SHIPPED / "signal_v0_agent_0.safetensors", "cpu", scenario=sc)
    success = {}
    for listener_name in ("ppo", "planner"):
        for name, talker in (("ppo", speaker), ("random", RandomAgent(seed=0))):
            if listener_name == "ppo":
                listener = load_controller(SHIPPED / "signal_v0_agents.safetensors", "cpu", scenario=sc)
            else:
                from agents.planners import make_planner

                listener = make_planner(sc, 0)
            seats = [
                Seat("agent_0", np.array([0]), name, talker, len(sc.actions)),
                Seat("agent_1", np.array([1]), listener_name, listener, len(sc.actions)),
            ]
            success[name, listener_name] = evaluate(sc, seats, 64, 1_000_000, "cpu")["success"]
    for listener_name in ("ppo", "planner"):
        assert success["ppo", listener_name] >= 0.75, success
        assert success["random", listener_name] <= 0.5, success


@pytest.mark.parametrize("team", ["west", "east"])
def test_the_shipped_flags_teams_outscore_random_players(team):
    """flags_v0 ships a PPO team for each side (docs/scenarios/flags_v0.md): on the default
    field, against random rivals, each wins most first episodes (seeded, fixed weights)."""
    from agents.random_agent import RandomAgent
    from arena.training.loop import Seat, act, seat_rows

    sc = parse_scenario("flags_v0")
    B = 32
    ppo = load_controller(SHIPPED / f"flags_v0_{team}.safetensors", "cpu", scenario=sc)
    side = sc.team_names.index(team)
    players = [ppo if k == side else RandomAgent(seed=k) for k in range(2)]
    seats = [
        Seat(name, np.flatnonzero(sc.teams == k), name, players[k], len(sc.actions))
        for k, name in enumerate(sc.team_names)
    ]
    env = BatchEnv(sc, B, 2_000_000)
    obs, score, seen = env.reset(), np.zeros((B, 2)), np.zeros(B, bool)
    while not seen.all():
        actions = np.zeros((B, sc.num_agents), np.int64)
        for seat in seats:
            actions[:, seat.agents] = act(seat, seat_rows(sc, env.world, obs, seat)).reshape(B, -1)
        obs, _, _, _, infos = env.step(actions)
        if infos["done"].any():
            idx = np.flatnonzero(infos["done"])
            new = ~seen[idx]
            score[idx[new]], seen[idx[new]] = infos["final_state"].extra["score"][new], True
    mine, theirs = score[:, side], score[:, 1 - side]
    assert (mine > theirs).mean() >= 0.6 and theirs.sum() == 0, (mine.mean(), theirs.mean())
