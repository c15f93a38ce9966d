"""The flags_v0 planner: legal actions, and a planner team outscores a random one."""

from __future__ import annotations

import numpy as np

import worlds
from agents.base import Observations
from agents.planners import make_planner
from agents.random_agent import RandomAgent


def test_planner_team_outscores_random() -> None:
    """Over 16 seeded fields of 100 steps, the west planners capture at least 8 flags in all and
    the random east team none."""
    env = worlds.make_batch("flags_v0", 16, seed=0, max_cycles=100)
    west, east = np.flatnonzero(env.scenario.teams == 0), np.flatnonzero(env.scenario.teams == 1)
    planner, random = make_planner(env.scenario, seed=0), RandomAgent(1)
    obs = env.reset()
    captures = np.zeros(2)
    for _ in range(100):
        actions = np.zeros((16, env.num_agents), np.int64)
        for agents, controller in ((west, planner), (east, random)):
            rows = Observations.of_batch(env.scenario, env.world, obs, agents)
            chosen = controller.act(rows)
            assert rows.action_mask[np.arange(len(rows)), chosen].all()
            actions[:, agents] = chosen.reshape(16, -1)
        obs, _, _, _, infos = env.step(actions)
        captures += infos["events"]["captured"].sum(0)
    assert captures[0] >= 8 and captures[1] == 0
