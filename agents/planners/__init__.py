"""Scripted planners, one per scenario: competent players that read the global state (the
whole map, every agent's position and goal) rather than their own view.

* maze_v0: shortest paths to each agent's goal, with corridor etiquette between agents;
* plates_v0: split the plates between the agents, wait on them until the gate opens, then go;
* signal_v0: the speaker says the target's colour, listeners walk to the landmark named;
* tag_v0: hunters chase the nearest runner and tag it; runners keep away from hunters, towards
  open space;
* forage_v0: groups whose levels reach an item's level walk next to it and collect it together;
* flags_v0: attackers fetch the rival flag and carry it home, defenders chase intruders and tag.
* harvest_v0: pick the nearest apple its patch can spare, leave the rest to regrow, zap agents
  about to strip a patch.
* keys_v0: fetch the key a locked door needs, open the door, go to the goal (with handover,
  agent 0 brings the keys to the hatch and agent 1 opens).

`make_planner(scenario, seed)` gives the scenario's planner; all its randomness (tie-breaks,
getting unstuck) comes from `np.random.default_rng(seed)`.
"""

from __future__ import annotations

from agents.planners.flags import FlagsPlanner
from agents.planners.forage import ForagePlanner
from agents.planners.grid import UNREACHED, distance_fields
from agents.planners.harvest import HarvestPlanner
from agents.planners.keys import KeysPlanner
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
    "forage_v0": ForagePlanner,
    "flags_v0": FlagsPlanner,
    "harvest_v0": HarvestPlanner,
    "keys_v0": KeysPlanner,
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
