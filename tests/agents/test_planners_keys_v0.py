"""The keys_v0 planner: solves generated layouts (one to three doors, distractors, the handover
variant) far more often than random play, with legal actions only, in a single PettingZoo env
too, and says what it is doing."""

from __future__ import annotations

import numpy as np
import pytest

import worlds
from agents.base import Observations
from agents.planners import make_planner
from benchmarks.planners import play

EPISODES = 16


@pytest.mark.parametrize(
    "config",
    [{}, {"num_doors": 3, "distractors": 2}, {"num_agents": 2, "handover": True, "num_doors": 2}],
    ids=["one door", "three doors, distractors", "handover"],
)
def test_planner_beats_random(config: dict) -> None:
    planner = play("keys_v0", config, "planner", None, EPISODES, seed=0)
    rand = play("keys_v0", config, "random", None, EPISODES, seed=0)
    assert planner["success"] >= 0.95  # measured: 100% on 50 seeds of each
    assert planner["success"] >= rand["success"] + 0.8  # random play: 0-2%
    assert planner["length"] < rand["length"] / 2


def test_planner_in_a_single_env_hands_the_key_over() -> None:
    env = worlds.make_parallel("keys_v0", num_agents=2, handover=True)
    planner = make_planner(env.scenario, seed=0)
    obs, _ = env.reset(seed=3)
    plans: set[str] = set()
    actions_seen: set[int] = set()
    while env.agents:
        rows = Observations.of_env(env, obs, env.agents)
        chosen = planner.act(rows)
        assert rows.action_mask[np.arange(len(chosen)), chosen].all()
        plans.update(planner.thinking().extras["plan"])
        actions_seen.update(chosen.tolist())
        obs, rewards, terminated, *_ = env.step(dict(zip(env.agents, chosen.tolist(), strict=True)))
    assert all(terminated.values()) and all(r > 0 for r in rewards.values())
    assert {"leave the key on the hatch", "open the door", "pick up the key"} <= plans
    assert {5, 6, 7} <= actions_seen  # pickup, drop (the handover) and toggle
