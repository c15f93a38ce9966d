"""maze_v0: navigate.

Description:
    Each agent must reach its own goal cell in a maze, a four-room layout or an open room
    (`style="maze" | "rooms" | "open"`, `size` x `size`, `loops` opens extra passages), or in a
    hand-written map (`map=` a file or a name in assets/maps/). Agents block each other by the
    engine's conflict rules; an agent that reaches its goal leaves the game, freeing the cell.

Agents:
    `num_agents` (default 1, at most 10): agent_0, agent_1, ... all on one team.

Observation:
    The engine's egocentric view (default 7x7, `view_size=`), whose third channel points to the
    agent's own goal, plus `action_mask`; `obs_type="view"` or `"text"` as for every scenario.

Actions:
    Discrete(5): noop, north, south, east, west.

Rewards:
    1 - 0.9 * (steps taken / max_cycles) to an agent on the step it reaches its goal, else 0
    (MiniGrid's convention, so faster is better and the scale stays in [0.1, 1]).

Termination:
    An agent terminates on reaching its goal. All agents are truncated at `max_cycles` steps.
    With a map file, goals are its `G` cells in reading order (agent i gets goal i modulo their
    number) and spawns are its digits, random free cells for agents without one.

Version History:
    v0: initial release.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from worlds.cells import GOAL
from worlds.env import scenario_module
from worlds.kernels import time_bonus
from worlds.mapgen import LAYOUTS, check_layout_size, pick_cells, spawn_agents
from worlds.mapgen_batch import check_room, grids, pick
from worlds.maps import MAX_SIDE, MapError
from worlds.scenario import Layout, Scenario
from worlds.seeding import Draws


@dataclass(frozen=True)
class Maze(Scenario):
    max_cycles: int = 256
    size: int = 9
    style: str = "maze"
    loops: float = 0.0

    name = "maze_v0"
    limits = {"size": (1, MAX_SIDE), "loops": (0.0, 1.0)}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.style not in LAYOUTS:
            raise ValueError(f"maze_v0: style must be one of {sorted(LAYOUTS)}, got {self.style!r}")
        if self.map is None:
            check_layout_size(self.style, self.size)

    def layouts(self, draws: Draws) -> Layout:
        """Generated layouts for the whole batch, each from its world's generator exactly as
        `layout` draws it (`worlds.mapgen_batch`); a map world by world."""
        if self.grid_map is not None:
            return super().layouts(draws)
        rngs, n = draws.rngs(), self.num_agents
        loops = self.loops if self.style == "maze" else 0.0
        terrain, u = grids(self.style, self.size, self.size, rngs, loops, then=2 * n)  # + goals, spawns
        goal, pos = np.empty((len(rngs), n, 2), np.int64), np.empty((len(rngs), n, 2), np.int64)
        short = np.empty(len(rngs), np.int64)
        maze_starts(terrain, u, goal, pos, short)
        check_room(short, n)
        return Layout(terrain, pos, goal)

    def layout(self, rng: np.random.Generator) -> Layout:
        """One world's start: the one-world form of `layouts` (they draw alike)."""
        if self.grid_map is not None:
            return self._map_layout(rng)
        kwargs = {"loops": self.loops} if self.style == "maze" else {}
        terrain = LAYOUTS[self.style](self.size, self.size, rng, **kwargs)
        goal = pick_cells(terrain, self.num_agents, rng)
        terrain[goal[:, 0], goal[:, 1]] = GOAL
        pos = pick_cells(terrain, self.num_agents, rng, exclude=goal)
        return Layout(terrain, pos, goal)

    def _map_layout(self, rng: np.random.Generator) -> Layout:
        grid = self.grid_map
        goals = grid.goals
        if not len(goals):
            raise MapError(grid.source, 1, 1, "maze_v0 needs at least one goal cell 'G'")
        goal = goals[np.arange(self.num_agents) % len(goals)]
        pos = spawn_agents(grid, self.num_agents, rng, avoid=goals)
        return Layout(grid.terrain.copy(), pos, goal)

    def judge(self, state, actions, events):
        rewards = np.empty(state.alive.shape, dtype=np.float64)
        reached = np.empty(state.alive.shape, dtype=bool)
        goals_reached(state.pos, state.goal, state.alive, state.t, self.max_cycles, rewards, reached)
        events["reached"] = reached
        return rewards, reached

    def goal_words(self, agent: int) -> str:
        return "walk to your own goal cell G"


@njit(cache=True)
def maze_starts(terrain, u, goal, pos, short):
    """Goals, then spawns off the goals, in every world of `terrain` uint8[K, H, W], from its
    draws u[k] (N for the goals, N for the spawns), as `Maze.layout` picks them; the goals are
    marked on the terrain. short[k]: -1, or the free cells of a world with too few."""
    K, H, W = terrain.shape
    pool = np.empty(H * W, np.int64)
    n = goal.shape[1]
    for b in range(K):
        short[b] = pick(terrain[b], 0, W, 255, n, u[b], 0, pool, goal[b])
        if short[b] >= 0:
            continue
        for i in range(n):
            terrain[b, goal[b, i, 0], goal[b, i, 1]] = GOAL
        short[b] = pick(terrain[b], 0, W, GOAL, n, u[b], n, pool, pos[b])


@njit(cache=True)
def goals_reached(pos, goal, alive, t, max_cycles, rewards, reached):
    """maze_v0: a live agent on its own goal cell terminates, scoring the time bonus."""
    B, N = alive.shape
    for b in range(B):
        bonus = time_bonus(t[b], max_cycles)
        for i in range(N):
            hit = alive[b, i] and pos[b, i, 0] == goal[b, i, 0] and pos[b, i, 1] == goal[b, i, 1]
            reached[b, i] = hit
            rewards[b, i] = bonus if hit else 0.0


env, parallel_env = scenario_module(Maze)
