"""forage_v0: cooperate (level-based foraging, after Papoudakis et al.'s LBF).

Description:
    Agents and food items have levels. Food `f` stands on cells nobody can walk onto. An item
    is collected on the step the agents next to it (four neighbours) that choose `collect`
    have levels summing to at least its level; it then vanishes. Low-level food one agent can
    take alone, high-level food needs several together. The layout is an open `size` x `size`
    room with `num_food` items kept apart from each other and from the walls, or a map (`map=`,
    with `f` cells; levels are drawn at every reset). Agent levels are drawn from
    1..`max_level`; a food's level from 1 up to the sum of every agent's level, so each item can
    be collected by the whole team; with `force_coop`, every item needs every agent.

Agents:
    `num_agents` (default 2, 2..4): agent_0, agent_1, ... all on one team.

Observation:
    The engine's egocentric view (default 7x7, no goal compass) with one extra channel, the
    levels: a food item's level on its cell, an agent's level on the cell it stands on, 0
    elsewhere (codes 0..16). The Dict observation adds `level`, the agent's own level, int8[1].
    The text view lists the agent's own level and the levels of the food and agents in view.

Actions:
    Discrete(6): noop, north, south, east, west, collect. `collect` is legal next to food.

Rewards:
    When an item of level L is collected by agents with levels summing to S, each of them gets
    L * (own level) / S, divided by the total level of the episode's food (LBF's
    normalisation): an episode in which all food is collected pays 1 in all, shared by level.

Termination:
    Every agent terminates on the step the last item is collected (success). All are
    truncated at `max_cycles` (default 50).

Version History:
    v0: initial release.
    v0 (batched layouts): generated rooms are drawn for every world of a batch in one call,
    from counter-based keys (`worlds.seeding`), by the same rules as before: the same
    distribution of layouts, but a seed gives another layout than before (records of earlier
    generated episodes no longer replay). Map files, rules and observations are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from gymnasium import spaces
from numba import njit

from worlds.cells import FLOOR, FOOD, NUM_CELLS, WALL
from worlds.env import scenario_module
from worlds.mapgen import spawn_agents
from worlds.maps import MapError
from worlds.scenario import Layout, Scenario, Sprite
from worlds.seeding import Draws

COLLECT = 5
MAX_LEVEL = 4  # agent levels; food levels reach MAX_LEVEL * MAX_AGENTS
MAX_AGENTS = 4
LEVEL_CODES = MAX_LEVEL * MAX_AGENTS + 1  # codes of the level view channel (0: none)
NEIGHBOURS = np.array([(-1, 0), (1, 0), (0, 1), (0, -1)], dtype=np.int64)
FOOD_COLOUR = (255, 214, 120)


@dataclass(frozen=True)
class Forage(Scenario):
    num_agents: int = 2
    max_cycles: int = 50
    size: int = 8
    num_food: int = 3
    max_level: int = 3
    force_coop: bool = False

    name = "forage_v0"
    limits = {"size": (5, 24), "num_food": (1, 64), "max_level": (1, 4)}
    interactions = ("collect",)
    num_cells = NUM_CELLS
    legend_cells = (WALL, FLOOR, FOOD)
    extra_channels = (LEVEL_CODES,)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 2 <= self.num_agents <= MAX_AGENTS:
            raise ValueError(f"forage_v0: num_agents must be 2..{MAX_AGENTS}, got {self.num_agents}")
        if not 1 <= self.max_level <= MAX_LEVEL:
            raise ValueError(f"forage_v0: max_level must be 1..{MAX_LEVEL}, got {self.max_level}")
        if not isinstance(self.force_coop, bool | np.bool_):
            raise ValueError(f"forage_v0: force_coop must be True or False, got {self.force_coop!r}")
        if self.map is not None:
            return
        if not 5 <= self.size <= 24:
            raise ValueError(f"forage_v0: size must be 5..24, got {self.size}")
        most = len(food_lattice(self.size))
        if not 1 <= self.num_food <= most:
            raise ValueError(
                f"forage_v0: num_food must be 1..{most} at size {self.size}, got {self.num_food}"
            )
        if self.num_food + self.num_agents > (self.size - 2) ** 2:
            raise ValueError(f"forage_v0: size {self.size} has no room for {self.num_agents} agents and food")

    # -- layout -------------------------------------------------------------------------------
    def layouts(self, draws: Draws) -> Layout:
        if self.grid_map is not None:
            return super().layouts(draws)  # a map: spawns and levels drawn world by world
        K, n, f, size = len(draws), self.num_agents, self.num_food, self.size
        spots, room, lattice = flat_cells(size)
        terrain = np.empty((K, size, size), dtype=np.uint8)
        food_level = np.empty((K, size, size), dtype=np.int8)
        pos = np.empty((K, n, 2), dtype=np.int64)
        agent_level = np.empty((K, n), dtype=np.int8)
        food_total = np.empty(K, dtype=np.int32)
        forage_rooms(
            draws.uniform(len(spots) + 2 * n + f + len(lattice)), spots, room, lattice, f,
            self.max_level, self.force_coop, terrain, food_level, pos, agent_level, food_total,
        )  # fmt: skip
        extra = {
            "agent_level": agent_level,
            "food_level": food_level,
            "food_total": food_total,  # the normaliser of rewards
            "food_left": np.full(K, f, dtype=np.int32),
        }
        return Layout(terrain, pos, np.broadcast_to(_no_goals(n), (K, n, 2)), extra)

    def layout(self, rng: np.random.Generator) -> Layout:
        """A map's start, spawns and levels drawn from `rng` (generated rooms come from
        `layouts`, a batch at a time)."""
        if self.grid_map is None:
            return super().layout(rng)
        return self._map_layout(rng)

    def _map_layout(self, rng: np.random.Generator) -> Layout:
        terrain = self.grid_map.terrain.copy()
        food = np.argwhere(terrain == FOOD)
        if not len(food):
            raise MapError(self.grid_map.source, 1, 1, "forage_v0 needs at least one food cell 'f'")
        pos = spawn_agents(self.grid_map, self.num_agents, rng, avoid=food)
        u = rng.random(self.num_agents + len(food)).tolist()
        agent_level = [1 + int(v * self.max_level) for v in u[: self.num_agents]]
        food_levels = self._food_levels(agent_level, u[self.num_agents :])
        return self._layout(terrain, pos, food, agent_level, food_levels)

    def _food_levels(self, agent_level: list[int], u: list[float]) -> list[int]:
        """1 up to the team's total level (every item collectable by all together); with
        `force_coop`, the total itself."""
        team = sum(agent_level)
        return [team if self.force_coop else 1 + int(v * team) for v in u]

    def _layout(self, terrain, pos, food, agent_level, food_levels) -> Layout:
        food_level = np.zeros(terrain.shape, dtype=np.int8)
        food_level[food[:, 0], food[:, 1]] = food_levels
        extra = {
            "agent_level": np.array(agent_level, dtype=np.int8),
            "food_level": food_level,
            "food_total": np.array(sum(food_levels), dtype=np.int32),
            "food_left": np.array(len(food_levels), dtype=np.int32),
        }
        return Layout(terrain, pos, _no_goals(self.num_agents), extra)

    # -- rules --------------------------------------------------------------------------------
    def interaction_mask(self, state) -> np.ndarray:
        out = np.empty((*state.alive.shape, 1), dtype=bool)
        next_to_food(state.terrain, state.pos, state.alive, state.pad, out)
        return out

    def interact(self, state, actions):
        rewards = np.zeros(state.alive.shape, dtype=np.float64)
        collected = np.zeros(state.alive.shape[0], dtype=np.int64)
        x = state.extra
        forage_collect(
            state.terrain, state.pos, state.alive, state.pad, np.asarray(actions, dtype=np.int64),
            x["agent_level"], x["food_level"], x["food_total"], x["food_left"], rewards, collected,
        )  # fmt: skip
        return {"food_rewards": rewards, "collected": collected}

    def judge(self, state, actions, events):
        cleared = state.extra["food_left"] == 0
        terminated = np.repeat(cleared[:, None], state.alive.shape[1], axis=1)
        return events["food_rewards"], terminated

    # -- what agents perceive -----------------------------------------------------------------
    def fill_views(self, state, present, views) -> None:
        x = state.extra
        level_views(state.terrain, state.pos, present, state.pad, x["agent_level"], x["food_level"], views)

    def extra_spaces(self) -> dict:
        return {"level": spaces.Box(0, MAX_LEVEL, (1,), dtype=np.int8)}

    def extra_observations(self, state) -> dict[str, np.ndarray]:
        return {"level": state.extra["agent_level"][..., None].copy()}

    def status_words(self, state, world: int, agent: int) -> list[str]:
        levels = state.extra["agent_level"][world]
        food = state.extra["food_level"][world]
        r = self.view_size // 2
        me = state.pos[world, agent]
        seen = []
        for y, x in np.argwhere(food > 0).tolist():
            if abs(y - me[0]) <= r and abs(x - me[1]) <= r:
                seen.append(f"food {_offset_words(y - me[0], x - me[1])} (level {food[y, x]})")
        for j in np.flatnonzero(state.alive[world]).tolist():
            y, x = state.pos[world, j].tolist()
            if j != agent and abs(y - me[0]) <= r and abs(x - me[1]) <= r:
                seen.append(
                    f"{self.agent_names[j]} {_offset_words(y - me[0], x - me[1])} (level {levels[j]})"
                )
        return [
            f"Your level is {levels[agent]}.",
            "Levels in view: " + ("; ".join(seen) if seen else "none") + ".",
        ]

    def sprites(self, state, world: int) -> list[Sprite]:
        food = state.extra["food_level"][world]
        out = [Sprite(y, x, "level", FOOD_COLOUR, str(food[y, x])) for y, x in np.argwhere(food > 0).tolist()]
        levels = state.extra["agent_level"][world]
        for i in np.flatnonzero(state.alive[world]).tolist():
            y, x = state.pos[world, i].tolist()
            out.append(Sprite(y, x, "level", (255, 255, 255), str(levels[i])))
        return out

    def goal_words(self, agent: int) -> str:
        return (
            "collect all the food f: stand next to an item and use collect, together with teammates "
            "when needed; it is collected when the levels of the agents collecting it sum to at "
            "least its level"
        )


def _offset_words(dy: int, dx: int) -> str:
    parts = [f"{abs(dy)} {'north' if dy < 0 else 'south'}"] if dy else []
    parts += [f"{abs(dx)} {'west' if dx < 0 else 'east'}"] if dx else []
    return " and ".join(parts) or "right here"


def food_lattice(size: int) -> list[tuple[int, int]]:
    """Cells two apart in the room's inner part (off the ring next to the walls): the most food
    a `size` room is promised to hold, every item with four free cells round it."""
    inner = range(2, size - 2, 2)
    return [(r, c) for r in inner for c in inner]


@lru_cache(maxsize=32)
def flat_cells(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat cells of a `size` room, int64 arrays: where food may go (off the walls and off the
    ring next to them, so every item has four free neighbours), every floor cell, and the
    `food_lattice`."""
    spots = np.array([r * size + c for r in range(2, size - 2) for c in range(2, size - 2)], np.int64)
    room = np.array([r * size + c for r in range(1, size - 1) for c in range(1, size - 1)], np.int64)
    lattice = np.array([r * size + c for r, c in food_lattice(size)], np.int64)
    return spots, room, lattice


@lru_cache(maxsize=32)
def _no_goals(num_agents: int) -> np.ndarray:
    goals = np.full((num_agents, 2), -1)
    goals.flags.writeable = False  # shared by every layout (the engine copies it)
    return goals


@njit(cache=True)
def forage_rooms(u, spots, room, lattice, num_food, max_level, force_coop, terrain, food_level, pos,
                 agent_level, food_total):  # fmt: skip
    """Open rooms with food for every world k of a batch, from its draws `u[k]` (one per spot,
    2 per agent, one per item, one per lattice cell): the food spread apart (`spread_food`; on
    the lattice if that runs out of room), the agents on distinct random floor cells, their
    levels 1..`max_level`, and the food's levels 1..the team's total (the total with
    `force_coop`), into `food_level` int8[K, H, W]."""
    H, W = terrain.shape[1], terrain.shape[2]
    N = pos.shape[1]
    S, L = len(spots), len(lattice)
    food = np.empty(num_food, np.int64)
    pool = np.empty(max(S, L, len(room)), np.int64)
    blocked = np.zeros(H * W, np.bool_)
    for b in range(u.shape[0]):
        draws = u[b]
        if not spread_food(spots, num_food, W, draws, pool, blocked, food):
            pool[:L] = lattice  # the greedy spread ran out of room: a random pick of the lattice
            for k in range(num_food):
                j = k + int(draws[S + 2 * N + num_food + k] * (L - k))
                pool[k], pool[j] = pool[j], pool[k]
                food[k] = pool[k]
        for y in range(H):
            for x in range(W):
                terrain[b, y, x] = FLOOR if 0 < y < H - 1 and 0 < x < W - 1 else WALL
                food_level[b, y, x] = 0
        for k in range(num_food):
            terrain[b, food[k] // W, food[k] % W] = FOOD
        free = 0
        for cell in room:
            if terrain[b, cell // W, cell % W] == FLOOR:
                pool[free] = cell
                free += 1
        for k in range(N):  # the first N Fisher-Yates swaps
            j = k + int(draws[S + k] * (free - k))
            pool[k], pool[j] = pool[j], pool[k]
            pos[b, k, 0], pos[b, k, 1] = pool[k] // W, pool[k] % W
        team = 0
        for k in range(N):
            agent_level[b, k] = 1 + int(draws[S + N + k] * max_level)
            team += agent_level[b, k]
        food_total[b] = 0
        for k in range(num_food):
            level = team if force_coop else 1 + int(draws[S + 2 * N + k] * team)
            food_level[b, food[k] // W, food[k] % W] = level
            food_total[b] += level


@njit(cache=True)
def spread_food(spots, count, width, draws, pool, blocked, food):
    """`count` of the flat cells `spots` (of a room `width` wide) into `food`, in a random order
    (Fisher-Yates on `draws`, one per spot), each kept unless it touches one kept before
    (diagonals included); False if they run out first. `pool` and `blocked` (all False, and
    left so) are scratch arrays."""
    S = len(spots)
    pool[:S] = spots
    kept = 0
    for k in range(S):
        j = k + int(draws[k] * (S - k))
        pool[k], pool[j] = pool[j], pool[k]
        cell = pool[k]
        if blocked[cell]:
            continue
        food[kept] = cell
        kept += 1
        if kept == count:
            break
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                blocked[cell + dy * width + dx] = True
    for k in range(kept):  # clear what was blocked, for the next world
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                blocked[food[k] + dy * width + dx] = False
    return kept == count


@njit(cache=True)
def next_to_food(terrain, pos, alive, pad, out):
    """forage_v0's mask: `collect` is legal for a live agent with food on a neighbouring cell."""
    B, N = alive.shape
    for b in range(B):
        for i in range(N):
            r, c = pos[b, i, 0] + pad, pos[b, i, 1] + pad
            near = False
            for k in range(4):
                near = near or terrain[b, r + NEIGHBOURS[k, 0], c + NEIGHBOURS[k, 1]] == FOOD
            out[b, i, 0] = alive[b, i] and near


@njit(cache=True)
def forage_collect(
    terrain, pos, alive, pad, actions, agent_level, food_level, food_total, food_left, rewards, collected
):
    """forage_v0, before moves: each food item next to live agents choosing `collect` whose
    levels sum to at least its level is collected (terrain to floor, level to 0, one fewer
    left); each of those agents earns level(food) * own level / sum / food_total. An agent next
    to two items helps with both."""
    B, N = alive.shape
    done_r = np.empty(4 * N, np.int64)
    done_c = np.empty(4 * N, np.int64)
    for b in range(B):
        count = 0
        for i in range(N):
            if not (alive[b, i] and actions[b, i] == COLLECT):
                continue
            for k in range(4):
                fr, fc = pos[b, i, 0] + NEIGHBOURS[k, 0], pos[b, i, 1] + NEIGHBOURS[k, 1]
                if terrain[b, fr + pad, fc + pad] != FOOD:
                    continue
                total = 0
                for j in range(N):  # every collector next to this item, i included
                    gap = abs(pos[b, j, 0] - fr) + abs(pos[b, j, 1] - fc)
                    if alive[b, j] and actions[b, j] == COLLECT and gap == 1:
                        total += agent_level[b, j]
                level = food_level[b, fr, fc]
                if total >= level:
                    rewards[b, i] += level * agent_level[b, i] / (total * food_total[b])
                    done_r[count], done_c[count] = fr, fc
                    count += 1
        for k in range(count):  # after every share is known: an item shared by two goes once
            fr, fc = done_r[k], done_c[k]
            if food_level[b, fr, fc] > 0:
                food_level[b, fr, fc] = 0
                terrain[b, fr + pad, fc + pad] = FLOOR
                food_left[b] -= 1
                collected[b] += 1


@njit(cache=True)
def level_views(terrain, pos, present, pad, agent_level, food_level, views):
    """forage_v0's level channel (index 3) of views uint8[B, N, V, V, 4]: the food level on food
    cells, an agent's level where a present agent stands, 0 elsewhere and off the map. Read off
    a scratch grid of one world's levels with the terrain's margin (as wide as a view's reach),
    refilled inside the map for each world, so the margin stays 0."""
    B, N, V = views.shape[0], views.shape[1], views.shape[2]
    H, W = food_level.shape[1], food_level.shape[2]
    r = V // 2
    grid = np.zeros(terrain.shape[1:], np.uint8)
    for b in range(B):
        for y in range(H):
            for x in range(W):
                grid[y + pad, x + pad] = food_level[b, y, x]
        for j in range(N):
            if present[b, j]:
                grid[pos[b, j, 0] + pad, pos[b, j, 1] + pad] = agent_level[b, j]
        for i in range(N):
            top, left = pos[b, i, 0] + pad - r, pos[b, i, 1] + pad - r
            for y in range(V):
                for x in range(V):
                    views[b, i, y, x, 3] = grid[top + y, left + x]


# The task generator's knobs: (num_agents, force_coop) pairs seen in training, and the ones held
# out for testing (a fourth agent, or every item needing the whole team of three).
TRAIN_TEAMS = ((2, False), (3, False), (2, True))
TEST_TEAMS = ((4, False), (3, True), (4, True))


def task_family(rng: np.random.Generator, split: str) -> tuple[dict, float]:
    """A forage_v0 config for the task generator and its difficulty: "train" and "test" draw
    from disjoint (num_agents, force_coop) pairs; sizes, food counts and levels from the same
    ranges. Difficulty grows with the food to collect, the room, the team and forced teamwork."""
    if split not in ("train", "test"):
        raise ValueError(f"forage_v0 task_family: split must be 'train' or 'test', got {split!r}")
    teams = TRAIN_TEAMS if split == "train" else TEST_TEAMS
    num_agents, force_coop = teams[int(rng.integers(len(teams)))]
    size = int(rng.choice((6, 8, 10)))
    num_food = int(rng.integers(1, min(len(food_lattice(size)), 4) + 1))
    config = {
        "num_agents": num_agents,
        "force_coop": force_coop,
        "size": size,
        "num_food": num_food,
        "max_level": int(rng.integers(1, MAX_LEVEL)),
        "max_cycles": 6 * size,
    }
    difficulty = num_food * size / 8 * (1 + 0.25 * (num_agents - 2)) * (1.5 if force_coop else 1.0)
    return config, float(difficulty)


env, parallel_env = scenario_module(Forage)
