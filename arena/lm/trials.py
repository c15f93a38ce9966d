"""Rounds of batched episodes for the LM measurements (`arena lm memory`, `arena lm talk`).

`play_round` plays one episode in each of `worlds` worlds at once, every seat's controller
acting for its live agents, and tells each controller that has `episode_over` how each world's
episode went (so a knowledge base files it). `summary` turns per-task success rates into a
mean and its standard error over tasks (the tasks are the independent units: the worlds of one
task share a layout and, with memory, a store).
"""

from __future__ import annotations

import math

import numpy as np

from agents.base import Observations
from worlds.batch import BatchEnv
from worlds.scenario import Scenario


def play_round(scenario: Scenario, seats: list[tuple[list[int], object]], worlds: int, seed: int) -> dict:
    """One episode per world (world b seeded `seed + b`): success bool[W], length int[W] and the
    first seat's mean return float[W]."""
    env = BatchEnv(scenario, worlds, seed)
    raw = env.reset()
    running = np.ones(worlds, dtype=bool)
    success = np.zeros(worlds, dtype=bool)
    length = np.zeros(worlds, dtype=np.int64)
    returns = np.zeros((worlds, scenario.num_agents))
    while running.any():
        actions = np.zeros((worlds, scenario.num_agents), dtype=np.int64)
        for agents, controller in seats:
            obs = Observations.of_batch(scenario, env.world, raw, agents)
            live = np.flatnonzero(env.world.alive[obs.world, obs.agent] & running[obs.world])
            if len(live):
                sub = rows(obs, live)
                actions[sub.world, sub.agent] = controller.act(sub)
        raw, rewards, _, _, info = env.step(actions)
        returns += np.where(running[:, None], rewards, 0.0)
        done = np.flatnonzero(info["done"] & running)
        if len(done):
            at = np.searchsorted(np.flatnonzero(info["done"]), done)
            success[done], length[done] = info["success"][at], info["episode_length"][at]
            running[done] = False
            for b in done.tolist():
                for agents, controller in seats:
                    over = getattr(controller, "episode_over", None)
                    if callable(over):
                        mine = {i: float(returns[b, i]) for i in agents}
                        over(b, bool(success[b]), int(length[b]), mine)
    first = seats[0][0]
    return {"success": success, "length": length, "return": returns[:, first].mean(1)}


def rows(obs: Observations, index: np.ndarray) -> Observations:
    return Observations(
        obs.scenario, obs.state, obs.view[index], obs.action_mask[index], obs.world[index], obs.agent[index]
    )


def team_seats(scenario: Scenario, controller, opponent_spec: str = "planner", seed: int = 0) -> list:
    """`controller` plays team 0 (every agent, or tag's hunters); a `opponent_spec` seat the rest."""
    from agents.registry import make_controller

    teams = np.asarray(scenario.teams)
    seats = [(np.flatnonzero(teams == 0).tolist(), controller)]
    if teams.max() > 0:
        seats.append((np.flatnonzero(teams != 0).tolist(), make_controller(opponent_spec, scenario, seed)))
    return seats


def summary(per_task: list[float]) -> tuple[float, float]:
    """(mean, standard error over tasks) of per-task rates."""
    x = np.asarray(per_task, dtype=np.float64)
    if len(x) < 2:
        return float(x.mean()) if len(x) else math.nan, math.nan
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))


def fmt(mean: float, se: float) -> str:
    return f"{mean:.3f} ± {se:.3f}" if not math.isnan(se) else f"{mean:.3f}"
