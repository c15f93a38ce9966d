"""The harvest_v0 planner harvests more than random play and keeps the orchard alive."""

from __future__ import annotations

import numpy as np

import worlds
from agents.base import Observations
from agents.planners import make_planner
from agents.random_agent import RandomAgent
from worlds.scenarios.harvest_v0 import social_metrics

WORLDS, CONFIG = 8, {"max_cycles": 200}


def episode(controller: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Social metrics of the first episode of WORLDS seeded worlds, every agent one controller."""
    env = worlds.make_batch("harvest_v0", WORLDS, seed=seed, **CONFIG)
    scenario = env.scenario
    ctrl = make_planner(scenario, seed=seed) if controller == "planner" else RandomAgent(seed)
    obs = env.reset()
    agents = np.arange(scenario.num_agents)
    for _ in range(scenario.max_cycles):  # every world ends by then (truncation at the latest)
        actions = ctrl.act(Observations.of_batch(scenario, env.world, obs, agents))
        obs, _, _, _, infos = env.step(actions.reshape(WORLDS, -1))
    assert infos["done"].all()
    return social_metrics(infos["final_state"]) | {"success": infos["success"]}


def test_planner_beats_random_and_keeps_the_commons() -> None:
    planner, rand = episode("planner"), episode("random")
    assert planner["collective_return"].mean() > 1.3 * rand["collective_return"].mean()
    assert planner["success"].mean() >= 0.75  # the orchard outlives the episode
    assert planner["equality"].mean() > 0.8


def test_planner_explains_itself() -> None:
    env = worlds.make_batch("harvest_v0", 2, seed=0)
    planner = make_planner(env.scenario, seed=0)
    obs = env.reset()
    planner.act(Observations.of_batch(env.scenario, env.world, obs, np.arange(4)))
    plans = planner.thinking().extras["plan"]
    assert set(plans) <= set(planner.plan_words) and "go to an apple its patch can spare" in plans


def test_planner_zaps_an_outsider_about_to_strip_a_patch(tmp_path) -> None:
    """Agent 1 (random, not the planner's) stands beside a lone apple in agent 0's beam."""
    path = tmp_path / "map.txt"
    path.write_text("0.1a.aaa\n", encoding="utf-8")
    env = worlds.make_batch("harvest_v0", 1, seed=0, map=str(path), num_agents=2)
    obs = env.reset()
    env.world.last_move[0, 0] = 3  # facing east
    obs = env._observe()
    planner = make_planner(env.scenario, seed=0)
    action = planner.act(Observations.of_batch(env.scenario, env.world, obs, [0]))
    assert action.tolist() == [5]
    assert planner.thinking().extras["plan"] == ["zap harvester_1, who is stripping a patch"]
