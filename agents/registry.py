"""Controllers by name, for seats given on the command line (`--seat hunter_0=planner`).

A spec is a name (`random`, `planner`, `human`, `lm`, `lm:smollm2`) or the path of a saved
checkpoint (any learner). Modules are imported only when their controller is asked for, so
a scripted match never imports torch or transformers.
"""

from __future__ import annotations

from pathlib import Path

from worlds.scenario import Scenario

NAMES = ("random", "planner", "human", "lm")


def make_controller(spec: str, scenario: Scenario, seed: int | None = None, device: str = "auto"):
    """The controller a seat spec names; a clear error lists the known names otherwise."""
    name, _, option = spec.partition(":")
    if name == "random":
        from agents.random_agent import RandomAgent

        return RandomAgent(seed)
    if name == "planner":
        from agents.planners import make_planner

        return make_planner(scenario, seed=seed)
    if name == "human":
        from agents.human import Human

        return Human(keys=option or None)
    if name == "lm":
        from agents.lm.policy import make_lm_controller

        return make_lm_controller(option or "default", scenario, seed=seed, device=device)
    if Path(spec).exists():
        from agents.checkpoint import load_controller

        return load_controller(spec, device=device)
    raise ValueError(
        f"unknown controller {spec!r}: use one of {', '.join(NAMES)} (or lm:MODEL), "
        "or the path of a checkpoint"
    )
