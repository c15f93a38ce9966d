"""What every scenario shares: its config fields, action set, agent names and teams.

A scenario is a frozen config dataclass whose methods are the scenario's own rules. The engine
(`worlds.engine`) calls them with batched state; subclasses override `layout` (the map for one
new episode), `judge` (rewards and terminations after the moves) and, for interactions,
`interact` and `interaction_mask`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from worlds.config import validate
from worlds.maps import GridMap, load_map

NOOP, NORTH, SOUTH, EAST, WEST = range(5)
MOVES = ("noop", "north", "south", "east", "west")
# (d_row, d_col) per move; north is up (row - 1).
DELTAS = np.array([(0, 0), (-1, 0), (1, 0), (0, 1), (0, -1)], dtype=np.int32)


@dataclass(frozen=True)
class Layout:
    """One episode's start: the map and where each agent stands and heads."""

    terrain: np.ndarray  # uint8[H, W]
    pos: np.ndarray  # int[N, 2]
    goal: np.ndarray  # int[N, 2], (-1, -1) where an agent has no goal of its own


@dataclass(frozen=True)
class Scenario:
    num_agents: int = 1
    view_size: int = 7
    max_cycles: int = 100
    map: str | None = None  # a map file (path or name in assets/maps); overrides generator options

    name: ClassVar[str] = "scenario"
    team_names: ClassVar[tuple[str, ...]] = ("agents",)
    interactions: ClassVar[tuple[str, ...]] = ()
    # (low, high) of fields, merged along subclasses and checked by `worlds.config.validate`
    limits: ClassVar[dict[str, tuple]] = {
        "num_agents": (1, 10),
        "view_size": (3, 31),
        "max_cycles": (1, 100_000),
    }

    def __post_init__(self) -> None:
        validate(self)
        if not 1 <= self.num_agents <= 10:
            raise ValueError(f"{self.name}: num_agents must be 1..10, got {self.num_agents}")
        if self.view_size < 3 or self.view_size % 2 == 0:
            raise ValueError(f"{self.name}: view_size must be odd and >= 3, got {self.view_size}")
        if self.max_cycles < 1:
            raise ValueError(f"{self.name}: max_cycles must be >= 1, got {self.max_cycles}")

    # -- identity ---------------------------------------------------------------------------
    @property
    def actions(self) -> tuple[str, ...]:
        return MOVES + self.interactions

    @cached_property
    def teams(self) -> np.ndarray:
        """Team index of each agent, int[N]."""
        return np.zeros(self.num_agents, dtype=np.int64)

    @cached_property
    def agent_names(self) -> list[str]:
        counts = [0] * len(self.team_names)
        names = []
        for team in self.teams:
            names.append(f"{self.team_names[team].rstrip('s')}_{counts[team]}")
            counts[team] += 1
        return names

    @cached_property
    def grid_map(self) -> GridMap | None:
        return load_map(self.map) if self.map else None

    @property
    def pad(self) -> int:
        return self.view_size // 2

    # -- rules (batched over worlds) ---------------------------------------------------------
    def layout(self, rng: np.random.Generator) -> Layout:
        raise NotImplementedError

    def interact(self, state, actions: np.ndarray) -> dict[str, np.ndarray]:
        """Interactions that happen before anyone moves; returns event arrays."""
        return {}

    def interaction_mask(self, state) -> np.ndarray:
        """Which interactions each agent may use now, bool[B, N, len(interactions)]."""
        return np.zeros((*state.alive.shape, len(self.interactions)), dtype=bool)

    def judge(self, state, actions: np.ndarray, events: dict) -> tuple[np.ndarray, np.ndarray]:
        """Rewards float32[B, N] and terminations bool[B, N] once the moves are done."""
        raise NotImplementedError

    def goal_words(self, agent: int) -> str:
        """The agent's goal in plain words, for the text view."""
        return "reach your goal"

    def success(self, terminated: np.ndarray) -> np.ndarray:
        """Whether episodes count as a success, bool[B], from which agents terminated (rather
        than being truncated), bool[B, N]. By default: every agent terminated."""
        return terminated.all(-1)
