"""The scenario registry: one explicit dict from versioned names to env modules."""

from __future__ import annotations

from types import ModuleType

from worlds.batch import BatchEnv
from worlds.config import check_keys
from worlds.env import GridParallelEnv
from worlds.scenario import Scenario
from worlds.scenarios import (
    flags_v0,
    forage_v0,
    harvest_v0,
    keys_v0,
    maze_v0,
    plates_v0,
    signal_v0,
    tag_v0,
)
from worlds.vector import AgentVectorEnv, SingleAgentEnv

SCENARIOS: dict[str, ModuleType] = {
    "maze_v0": maze_v0,
    "plates_v0": plates_v0,
    "tag_v0": tag_v0,
    "forage_v0": forage_v0,
    "flags_v0": flags_v0,
    "harvest_v0": harvest_v0,
    "keys_v0": keys_v0,
    "signal_v0": signal_v0,
}
_CLASSES: dict[str, type[Scenario]] = {
    "maze_v0": maze_v0.Maze,
    "plates_v0": plates_v0.Plates,
    "tag_v0": tag_v0.Tag,
    "forage_v0": forage_v0.Forage,
    "flags_v0": flags_v0.Flags,
    "harvest_v0": harvest_v0.Harvest,
    "keys_v0": keys_v0.Keys,
    "signal_v0": signal_v0.Signal,
}


def scenario_class(name: str) -> type[Scenario]:
    if name not in _CLASSES:
        raise ValueError(f"unknown scenario {name!r}; known scenarios: {', '.join(SCENARIOS)}")
    return _CLASSES[name]


def make_scenario(name: str, **config) -> Scenario:
    """A scenario with `config`; unknown keys, wrong types and out-of-range values raise a
    `ConfigError` (see `worlds.config`)."""
    cls = scenario_class(name)
    check_keys(cls, config)
    return cls(**config)


def make_parallel(name: str, **kwargs) -> GridParallelEnv:
    """A PettingZoo ParallelEnv; kwargs are render_mode, obs_type, illegal and scenario config."""
    scenario_class(name)
    return SCENARIOS[name].parallel_env(**kwargs)


def make_env(name: str, **kwargs):
    """A PettingZoo AEC env, with the same kwargs as `make_parallel`."""
    scenario_class(name)
    return SCENARIOS[name].env(**kwargs)


def make_batch(
    name: str,
    num_worlds: int,
    seed: int | None = None,
    obs_type: str = "dict",
    illegal: str = "noop",
    **config,
) -> BatchEnv:
    """`num_worlds` worlds of one scenario stepped at once (see `worlds.batch`)."""
    return BatchEnv(make_scenario(name, **config), num_worlds, seed, obs_type, illegal)


def make_gym(name: str, **kwargs) -> SingleAgentEnv:
    """A one-agent scenario as a Gymnasium Env, with the same kwargs as `make_parallel`."""
    return SingleAgentEnv(make_parallel(name, **kwargs))


def make_vector(
    name: str,
    num_worlds: int,
    seed: int | None = None,
    obs_type: str = "dict",
    illegal: str = "noop",
    **config,
) -> AgentVectorEnv:
    """A Gymnasium VectorEnv whose rows are every agent of `num_worlds` worlds (see `worlds.vector`)."""
    return AgentVectorEnv(make_batch(name, num_worlds, seed, obs_type, illegal, **config))
