"""plates_v0: cooperate.

Description:
    Two rooms split by a wall with a closed gate `D`. The agents start in the west room, which
    has one pressure plate `P` per agent; the goal `G` lies in the east room. The gate opens (and
    stays open) on the step every plate has an agent on it at the same time, so no agent can
    open it alone. Then any agent that reaches the goal wins for the whole team. `size` sets the
    room height (width is 2 * size - 1); `map=` takes a hand-written map with `P`, `D` and `G`.

Agents:
    `num_agents` (default 2, at most 10): agent_0, agent_1, ... all on one team.

Observation:
    The engine's egocentric view (default 7x7) with the compass to the goal `G`, plus
    `action_mask`; `obs_type="view"` or `"text"` as for every scenario.

Actions:
    Discrete(5): noop, north, south, east, west.

Rewards:
    Team rewards, the same for every agent: `gate_bonus` (default 0.2) on the step the gate
    opens, and 1 - 0.9 * (steps taken / max_cycles) when any agent reaches the goal.

Termination:
    Every agent terminates when one of them reaches the goal; all are truncated at `max_cycles`.

Version History:
    v0: initial release.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from worlds.cells import FLOOR, GATE, GOAL, OPEN_GATE, PLATE, WALL
from worlds.env import scenario_module
from worlds.kernels import time_bonus
from worlds.mapgen import open_arena, pick_cells, spawn_agents
from worlds.mapgen_batch import check_room, draw_rows, pick
from worlds.maps import MapError
from worlds.scenario import Layout, Scenario
from worlds.seeding import Draws


@dataclass(frozen=True)
class Plates(Scenario):
    num_agents: int = 2
    max_cycles: int = 200
    size: int = 7
    gate_bonus: float = 0.2

    name = "plates_v0"
    limits = {"size": (5, 31), "gate_bonus": (-100.0, 100.0)}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.map is None and not 5 <= self.size <= 31:
            raise ValueError(f"plates_v0: size must be 5..31, got {self.size}")

    def layouts(self, draws: Draws) -> Layout:
        """Generated layouts for the whole batch, each from its world's generator exactly as
        `layout` draws it (`worlds.mapgen_batch`); a map world by world."""
        if self.grid_map is not None:
            return super().layouts(draws)
        rngs, n, height = draws.rngs(), self.num_agents, self.size
        gates = np.array([rng.integers(1, height - 1) for rng in rngs], dtype=np.int64)  # one call each
        terrain = np.empty((len(rngs), height, 2 * height - 1), dtype=np.uint8)
        pos, goal = np.empty((len(rngs), n, 2), np.int64), np.empty((len(rngs), 1, 2), np.int64)
        short = np.empty(len(rngs), np.int64)
        plates_rooms(gates, draw_rows(rngs, 2 * n + 1), terrain, pos, goal, short)
        check_room(short, n)
        return Layout(terrain, pos, np.repeat(goal, n, axis=1))

    def layout(self, rng: np.random.Generator) -> Layout:
        """One world's start: the one-world form of `layouts` (they draw alike)."""
        if self.grid_map is not None:
            return self._map_layout(rng)
        height, width = self.size, 2 * self.size - 1
        terrain = open_arena(height, width)
        split = self.size - 1
        terrain[:, split] = WALL
        terrain[rng.integers(1, height - 1), split] = GATE
        west = terrain.copy()
        west[:, split:] = WALL  # plates and spawns in the west room only
        plates = pick_cells(west, self.num_agents, rng)
        terrain[plates[:, 0], plates[:, 1]] = PLATE
        west[plates[:, 0], plates[:, 1]] = PLATE
        pos = pick_cells(west, self.num_agents, rng, exclude=plates)
        east = terrain.copy()
        east[:, : split + 1] = WALL
        goal = pick_cells(east, 1, rng)
        terrain[goal[0, 0], goal[0, 1]] = GOAL
        return Layout(terrain, pos, np.repeat(goal, self.num_agents, axis=0))

    def _map_layout(self, rng: np.random.Generator) -> Layout:
        grid = self.grid_map
        for cell, char in ((GOAL, "G"), (PLATE, "P"), (GATE, "D")):
            if not (grid.terrain == cell).any():
                raise MapError(grid.source, 1, 1, f"plates_v0 needs at least one {char!r} cell")
        goal = grid.goals[:1]
        plates = np.argwhere(grid.terrain == PLATE)
        if len(plates) > self.num_agents:
            raise ValueError(
                f"{grid.source}: plates_v0 with {len(plates)} plates needs at least that many "
                f"agents to open the gate, got num_agents={self.num_agents}"
            )
        pos = spawn_agents(grid, self.num_agents, rng, avoid=np.concatenate([goal, plates]))
        return Layout(grid.terrain.copy(), pos, np.repeat(goal, self.num_agents, axis=0))

    def judge(self, state, actions, events):
        B, N = state.alive.shape
        rewards, won_all = np.empty((B, N), dtype=np.float64), np.empty((B, N), dtype=bool)
        opened, won = np.empty(B, dtype=bool), np.empty(B, dtype=bool)
        plates_judge(
            state.terrain, state.pos, state.alive, state.pad, state.t, self.max_cycles,
            float(self.gate_bonus), rewards, won_all, opened, won,
        )  # fmt: skip
        events["gate_opened"], events["won"] = opened, won
        return rewards, won_all

    def goal_words(self, agent: int) -> str:
        return (
            "with your team, stand on every pressure plate P at the same time to open the gate D, "
            "then any of you reaching the goal G wins for all"
        )


@njit(cache=True)
def plates_rooms(gates, u, terrain, pos, goal, short):
    """The two rooms of every world of `terrain` uint8[K, H, 2H - 1], as `Plates.layout` draws
    them: the wall down the middle with the gate on row gates[k]; from the draws u[k], N plates
    and then N spawns off them in the west room, and the goal in the east room. short[k]: -1,
    or the free cells of a world with too few."""
    K, H, W = terrain.shape
    split = H - 1
    n = pos.shape[1]
    pool = np.empty(H * W, np.int64)
    plates = np.empty((n, 2), np.int64)
    for b in range(K):
        for y in range(H):
            for x in range(W):
                inside = 0 < y < H - 1 and 0 < x < W - 1 and x != split
                terrain[b, y, x] = FLOOR if inside else WALL
        terrain[b, gates[b], split] = GATE
        short[b] = pick(terrain[b], 0, split, 255, n, u[b], 0, pool, plates)  # the west room
        if short[b] >= 0:
            continue
        for i in range(n):
            terrain[b, plates[i, 0], plates[i, 1]] = PLATE
        short[b] = pick(terrain[b], 0, split, PLATE, n, u[b], n, pool, pos[b])
        pick(terrain[b], split + 1, W, 255, 1, u[b], 2 * n, pool, goal[b])  # the east room
        terrain[b, goal[b, 0, 0], goal[b, 0, 1]] = GOAL


@njit(cache=True)
def plates_judge(terrain, pos, alive, pad, t, max_cycles, gate_bonus, rewards, won_all, opened, won):
    """plates_v0, after moves: the gate opens (in place, for good) on the step every plate has a
    live agent on it; any live agent on the goal wins for all. Team rewards: `gate_bonus` on
    opening, the time bonus on winning; everyone terminates on a win."""
    B, N = alive.shape
    H, W = terrain.shape[1], terrain.shape[2]
    for b in range(B):
        on_plates = 0
        won[b] = False
        for i in range(N):
            cell = terrain[b, pos[b, i, 0] + pad, pos[b, i, 1] + pad]
            if alive[b, i]:
                on_plates += cell == PLATE
                won[b] = won[b] or cell == GOAL
        plates = gates = 0
        for y in range(H):  # counted without branches, so the loop vectorizes
            for x in range(W):
                plates += terrain[b, y, x] == PLATE
                gates += terrain[b, y, x] == GATE
        opened[b] = gates > 0 and on_plates >= plates
        if opened[b]:
            for y in range(H):
                for x in range(W):
                    if terrain[b, y, x] == GATE:
                        terrain[b, y, x] = OPEN_GATE
        team = gate_bonus * opened[b] + won[b] * time_bonus(t[b], max_cycles)
        for i in range(N):
            rewards[b, i] = team
            won_all[b, i] = won[b]


env, parallel_env = scenario_module(Plates)
