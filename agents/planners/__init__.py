"""Scripted planners, one per scenario: competent players that read the global state (the
whole map, every agent's position and goal) rather than their own view.

* maze_v0: shortest paths to each agent's goal, with corridor etiquette between agents;
* plates_v0: split the plates between the agents, wait on them until the gate opens, then go;
* signal_v0: the speaker says the target's colour, listeners walk to the landmark named;
* tag_v0: hunters chase the nearest runner and tag it; runners keep away from hunters, towards
  open space.

`make_planner(scenario, seed)` gives the scenario's planner; all its randomness (tie-breaks,
getting unstuck) comes from `np.random.default_rng(seed)`.
"""

from __future__ import annotations

from agents.planners.grid import UNREACHED, distance_fields
from agents.planners.maze import MazePlanner
from agents.planners.planner import PLAN_WORDS, Planner
from agents.planners.plates import PlatesPlanner
from agents.planners.signal import SignalPlanner
from agents.planners.tag import TagPlanner
from worlds.scenario import Scenario

PLANNERS: dict[str, type[Planner]] = {
    "maze_v0": MazePlanner,
    "plates_v0": PlatesPlanner,
    "signal_v0": SignalPlanner,
    "tag_v0": TagPlanner,
}


def make_planner(scenario: Scenario | str, seed: int | None = None) -> Planner:
    """The planner of a scenario (a Scenario, or a registered name with default config)."""
    if isinstance(scenario, str):
        from worlds.registry import make_scenario

        scenario = make_scenario(scenario)
    if scenario.name not in PLANNERS:
        raise ValueError(f"no planner for scenario {scenario.name!r}; planners: {', '.join(PLANNERS)}")
    return PLANNERS[scenario.name](scenario, seed)


__all__ = ["PLANNERS", "PLAN_WORDS", "UNREACHED", "Planner", "distance_fields", "make_planner"]
