"""Every registered scenario passes PettingZoo's own test suite, in every observation type."""

from __future__ import annotations

import warnings
from functools import partial
from types import SimpleNamespace

import pytest
from pettingzoo.test import (
    api_test,
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    render_test,
    seed_test,
)

import worlds

NAMES = sorted(worlds.SCENARIOS)
OBS_TYPES = ("dict", "view", "text", "flat", "image")
CYCLES = 60

# PettingZoo warns about any observation that is not a bare array and any space that is not a
# Box or Discrete. Our dict and text observations carry the action mask beside the view, as
# PettingZoo's own docs recommend, so exactly these two structural warnings are expected there.
DICT_OBS_WARNINGS = {
    "Observation is not a NumPy array",
    "Observation space for each agent probably should be gymnasium.spaces.box or gymnasium.spaces.discrete",
}


def obs_warnings(caught: list[warnings.WarningMessage], obs_type: str) -> list[str]:
    """The warnings about observations or action masks that should not be there."""
    allowed = DICT_OBS_WARNINGS if obs_type in ("dict", "text") else set()
    messages = [str(w.message) for w in caught]
    return [m for m in messages if ("Observation" in m or "Action mask" in m) and m not in allowed]


@pytest.mark.parametrize("obs_type", OBS_TYPES)
@pytest.mark.parametrize("name", NAMES)
def test_api(name: str, obs_type: str) -> None:
    module = worlds.SCENARIOS[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api_test(module.env(obs_type=obs_type), num_cycles=CYCLES)
        parallel_api_test(module.parallel_env(obs_type=obs_type), num_cycles=CYCLES)
    assert obs_warnings(caught, obs_type) == []


@pytest.mark.parametrize("name", NAMES)
def test_seed(name: str) -> None:
    module = worlds.SCENARIOS[name]
    seed_test(module.env, num_cycles=CYCLES)
    parallel_seed_test(module.parallel_env, num_cycles=CYCLES)


# max_cycles_test runs unseeded episodes of 4 steps and requires every one to last that long:
# a random 9x9 maze may put the goal a step from the spawn, so the maze runs on a shipped map
# whose goal is far away. Tag's spawns keep runners 3+ steps from hunters, plates need a gate.
# signal_v0's listener could step on the target early too: the plaza puts it 5 steps from any.
LASTING = {"maze_v0": {"map": "maze_classic"}, "signal_v0": {"map": "signal_plaza"}}


@pytest.mark.parametrize("name", NAMES)
def test_max_cycles(name: str) -> None:
    module = worlds.SCENARIOS[name]
    config = LASTING.get(name, {})
    lasting = SimpleNamespace(
        env=partial(module.env, **config), parallel_env=partial(module.parallel_env, **config)
    )
    max_cycles_test(lasting)


@pytest.mark.parametrize("name", NAMES)
def test_render(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # `human` mode opens a window, off screen here
    monkeypatch.setitem(worlds.GridParallelEnv.metadata, "render_fps", 1000)  # no pacing in tests
    render_test(worlds.SCENARIOS[name].env)


@pytest.mark.parametrize("obs_type", OBS_TYPES)
@pytest.mark.parametrize("name", NAMES)
def test_spaces_are_cached(name: str, obs_type: str) -> None:
    env = worlds.make_parallel(name, obs_type=obs_type)
    obs, _ = env.reset(seed=0)
    for agent in env.possible_agents:
        assert env.observation_space(agent) is env.observation_space(agent)
        assert env.action_space(agent) is env.action_space(agent)
        assert env.observation_space(agent).contains(obs[agent])
