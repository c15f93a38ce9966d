"""Grid Arena's worlds: a vectorized grid engine whose scenarios are PettingZoo environments."""

from worlds.batch import BatchEnv
from worlds.env import GridParallelEnv
from worlds.maps import GridMap, MapError, load_map, parse_map
from worlds.registry import (
    SCENARIOS,
    make_batch,
    make_env,
    make_gym,
    make_parallel,
    make_scenario,
    make_vector,
)
from worlds.tasks import Task, tasks

__all__ = [
    "SCENARIOS",
    "BatchEnv",
    "GridMap",
    "GridParallelEnv",
    "MapError",
    "Task",
    "load_map",
    "make_batch",
    "make_env",
    "make_gym",
    "make_parallel",
    "make_scenario",
    "make_vector",
    "parse_map",
    "tasks",
]
