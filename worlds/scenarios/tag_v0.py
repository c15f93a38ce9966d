"""tag_v0: compete.

Description:
    Hunters chase runners through a `size` x `size` layout (`style="rooms" | "maze" | "open"`,
    or `map=`). A hunter's `tag` catches every runner on the four cells next to it; tags land
    before anyone moves, so a runner next to a tagging hunter cannot step away that turn. A
    caught runner leaves the game (PettingZoo removal: it is reported terminated on that step,
    then it is gone from `agents`, and its body no longer blocks anyone).

Agents:
    `num_hunters` hunters (default 2), then `num_agents - num_hunters` runners (default 2):
    hunter_0, hunter_1, runner_0, runner_1. Each sees hunters and runners as teammates/rivals.

Observation:
    The engine's egocentric view (default 7x7; no goal compass in this scenario) plus
    `action_mask`; `obs_type="view"` or `"text"` as for every scenario.

Actions:
    Discrete(6): noop, north, south, east, west, tag. `tag` is legal for hunters only.

Rewards:
    Asymmetric. Every hunter gets +1 for each runner caught by its team that step. A runner
    gets -1 when caught and +1 / max_cycles for each step it stays free (so a runner that
    survives the whole episode collects +1).

Termination:
    A caught runner terminates; when no runner is left, the hunters terminate too (the hunters'
    success). Everyone still in the game is truncated at `max_cycles`.

Version History:
    v0: initial release.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numba import njit

from worlds.env import scenario_module
from worlds.mapgen import LAYOUTS, check_layout_size, draw_cells, free_cells, spawn_agents
from worlds.mapgen_batch import check_room, draw_rows, grids, pick
from worlds.maps import MAX_SIDE
from worlds.scenario import Layout, Scenario
from worlds.seeding import Draws

HUNTERS, RUNNERS = 0, 1
TAG = 5


@dataclass(frozen=True)
class Tag(Scenario):
    num_agents: int = 4
    num_hunters: int = 2
    max_cycles: int = 100
    size: int = 9
    style: str = "rooms"

    name = "tag_v0"
    limits = {"size": (1, MAX_SIDE), "num_hunters": (1, 9)}
    team_names = ("hunters", "runners")
    interactions = ("tag",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.num_hunters < self.num_agents:
            raise ValueError(
                f"tag_v0: need 1 <= num_hunters < num_agents, got {self.num_hunters} of {self.num_agents}"
            )
        if self.style not in LAYOUTS:
            raise ValueError(f"tag_v0: style must be one of {sorted(LAYOUTS)}, got {self.style!r}")
        if self.map is None:
            check_layout_size(self.style, self.size)

    @cached_property
    def teams(self) -> np.ndarray:
        return (np.arange(self.num_agents) >= self.num_hunters).astype(np.int64)

    @cached_property
    def hunter(self) -> np.ndarray:
        """Which agents are hunters, bool[N]."""
        return self.teams == HUNTERS

    def layouts(self, draws: Draws) -> Layout:
        """Generated layouts for the whole batch, each from its world's generator exactly as
        `layout` draws it (`worlds.mapgen_batch`); a map world by world."""
        if self.grid_map is not None:
            return super().layouts(draws)
        rngs, n = draws.rngs(), self.num_agents
        loops = 0.3 if self.style == "maze" else 0.0
        terrain, u = grids(self.style, self.size, self.size, rngs, loops, then=n)  # + the first spawns
        pos = np.empty((len(rngs), n, 2), np.int64)
        pending = np.arange(len(rngs))  # worlds whose spawns are not yet apart
        for attempt in range(20):  # as `spawn_agents_apart`: a new draw while one falls short
            apart, short = np.empty(len(pending), bool), np.empty(len(pending), np.int64)
            spot = np.empty((len(pending), n, 2), np.int64)
            if attempt:
                u = draw_rows([rngs[b] for b in pending.tolist()], n)
            spawns_apart(terrain[pending], u, self.hunter, spot, apart, short)
            check_room(short, n)
            pos[pending] = spot
            pending = pending[~apart]
            if not len(pending):
                break
        return Layout(terrain, pos, np.full((len(rngs), n, 2), -1))

    def layout(self, rng: np.random.Generator) -> Layout:
        """One world's start: the one-world form of `layouts` (they draw alike)."""
        if self.grid_map is not None:
            terrain = self.grid_map.terrain.copy()
            pos = spawn_agents(self.grid_map, self.num_agents, rng, avoid=np.zeros((0, 2), int))
        else:
            kwargs = {"loops": 0.3} if self.style == "maze" else {}
            terrain = LAYOUTS[self.style](self.size, self.size, rng, **kwargs)
            pos = spawn_agents_apart(terrain, self.teams, rng)
        return Layout(terrain, pos, np.full((self.num_agents, 2), -1))

    def interaction_mask(self, state) -> np.ndarray:
        return (state.alive & self.hunter)[..., None]

    def interact(self, state, actions):
        caught = np.empty(state.alive.shape, dtype=bool)
        actions = np.asarray(actions, dtype=np.int64)
        tag_catches(state.pos, state.alive, actions, self.num_hunters, TAG, caught)
        return {"caught": caught}  # caught runners left the game: they neither move nor block

    def judge(self, state, actions, events):
        rewards = np.empty(state.alive.shape, dtype=np.float64)
        terminated = np.empty(state.alive.shape, dtype=bool)
        caught = events["caught"]
        tag_judge(caught, state.alive, self.num_hunters, self.max_cycles, rewards, terminated)
        return rewards, terminated

    def goal_words(self, agent: int) -> str:
        if self.teams[agent] == HUNTERS:
            return "catch the runners: stand next to one and use tag"
        return "stay away from the hunters until time runs out; a hunter next to you can tag you"

    def success(self, terminated):
        return terminated[:, self.teams == RUNNERS].all(-1)


def spawn_agents_apart(terrain: np.ndarray, teams: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random spawns with every runner at least 3 steps (Manhattan) from every hunter, where the
    layout allows; the last draw is kept if twenty draws all fall short."""
    cells, width = free_cells(terrain), terrain.shape[1]
    hunters = [i for i, team in enumerate(teams.tolist()) if team == HUNTERS]
    runners = [i for i, team in enumerate(teams.tolist()) if team == RUNNERS]
    pairs = [(h, r) for h in hunters for r in runners]
    for _ in range(20):
        spot = draw_cells(cells, len(teams), width, rng)
        if min(abs(spot[h][0] - spot[r][0]) + abs(spot[h][1] - spot[r][1]) for h, r in pairs) >= 3:
            break
    return np.array(spot)


@njit(cache=True)
def spawns_apart(terrain, u, hunter, pos, apart, short):
    """One draw of `spawn_agents_apart` in every world of `terrain`: N distinct passable cells
    from the draws u[k] into pos[k]; apart[k] when every runner is 3+ steps (Manhattan) from
    every hunter. short[k]: -1, or the free cells of a world with too few."""
    K, H, W = terrain.shape
    n = pos.shape[1]
    pool = np.empty(H * W, np.int64)
    for b in range(K):
        short[b] = pick(terrain[b], 0, W, 255, n, u[b], 0, pool, pos[b])
        nearest = H + W
        for h in range(n):
            for r in range(n):
                if hunter[h] and not hunter[r]:
                    gap = abs(pos[b, h, 0] - pos[b, r, 0]) + abs(pos[b, h, 1] - pos[b, r, 1])
                    nearest = min(nearest, gap)
        apart[b] = nearest >= 3


@njit(cache=True)
def tag_catches(pos, alive, actions, num_hunters, tag, caught):
    """tag_v0, before moves: a live runner next to (one step, not diagonal) a live hunter that
    tags is caught and leaves the game. Hunters are agents 0 .. num_hunters - 1."""
    B, N = alive.shape
    for b in range(B):
        for i in range(N):
            caught[b, i] = False
        for h in range(num_hunters):
            if not (alive[b, h] and actions[b, h] == tag):
                continue
            for i in range(num_hunters, N):
                gap = abs(pos[b, i, 0] - pos[b, h, 0]) + abs(pos[b, i, 1] - pos[b, h, 1])
                if gap == 1 and alive[b, i]:
                    caught[b, i] = True
        for i in range(num_hunters, N):
            if caught[b, i]:
                alive[b, i] = False


@njit(cache=True)
def tag_judge(caught, alive, num_hunters, max_cycles, rewards, terminated):
    """tag_v0, after moves: each hunter scores the team's catches; a runner -1 when caught, else
    1 / max_cycles while free; caught runners terminate, the hunters once no runner is free."""
    B, N = alive.shape
    for b in range(B):
        catches = 0
        cleared = True
        for i in range(N):
            catches += caught[b, i]
            if i >= num_hunters and alive[b, i]:
                cleared = False
        for i in range(N):
            if i < num_hunters:
                rewards[b, i] = catches
                terminated[b, i] = caught[b, i] or cleared
            else:
                rewards[b, i] = alive[b, i] / max_cycles - caught[b, i]
                terminated[b, i] = caught[b, i]


env, parallel_env = scenario_module(Tag)
