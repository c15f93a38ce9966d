"""Every registered scenario ships a trained checkpoint, and each one loads for its scenario
and plays legal actions (`--seat NAME=PATH` is what users run them with)."""

from __future__ import annotations

import numpy as np
import pytest

import worlds
from agents.base import Observations
from agents.registry import load_controller
from worlds.maps import ASSETS_DIR

SHIPPED = sorted((ASSETS_DIR / "checkpoints").glob("*.safetensors"))


def scenario_of(path) -> str:
    return next(name for name in worlds.SCENARIOS if path.name.startswith(name + "_"))


def test_every_scenario_ships_a_checkpoint() -> None:
    assert {scenario_of(path) for path in SHIPPED} == set(worlds.SCENARIOS)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_shipped_checkpoint_plays_its_scenario(path) -> None:
    name = scenario_of(path)
    seat = path.stem.removeprefix(name + "_")
    env = worlds.make_batch(name, 4, seed=0)
    obs = env.reset()
    learner = load_controller(path, "cpu", scenario=env.scenario)
    scenario = env.scenario
    agents = [
        i for i, a in enumerate(scenario.agent_names) if seat in (a, scenario.team_names[scenario.teams[i]])
    ]
    assert agents, f"{path.name}: no agent or team {seat!r} in {name}"
    world, agent = np.repeat(np.arange(4), len(agents)), np.tile(agents, 4)
    rows = Observations(
        scenario, env.world, obs["view"][world, agent], obs["action_mask"][world, agent], world, agent
    )
    actions = learner.act(rows)
    assert actions.shape == (len(world),)
    assert obs["action_mask"][world, agent, actions].all()  # legal, always
