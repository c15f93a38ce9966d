"""The scenario registry: one explicit dict from versioned names to env modules."""

from __future__ import annotations

from types import ModuleType

from worlds.batch import BatchEnv
from worlds.env import GridParallelEnv
from worlds.scenario import Scenario
from worlds.scenarios import maze_v0, plates_v0, signal_v0, tag_v0

SCENARIOS: dict[str, ModuleType] = {
    "maze_v0": maze_v0,
    "plates_v0": plates_v0,
    "signal_v0": signal_v0,
    "tag_v0": tag_v0,
}
_CLASSES: dict[str, type[Scenario]] = {
    "maze_v0": maze_v0.Maze,
    "plates_v0": plates_v0.Plates,
    "signal_v0": signal_v0.Signal,
    "tag_v0": tag_v0.Tag,
}


def scenario_class(name: str) -> type[Scenario]:
    if name not in _CLASSES:
        raise ValueError(f"unknown scenario {name!r}; known scenarios: {', '.join(SCENARIOS)}")
    return _CLASSES[name]


def make_scenario(name: str, **config) -> Scenario:
    return scenario_class(name)(**config)


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
