"""keys_v0: keys and doors.

Description:
    A row of rooms (MiniGrid's DoorKey and KeyCorridor): each wall between two rooms holds a
    locked door of its own colour (`DOOR + k`: `R` `B` `Y` `V`), the goal `G` lies in the last
    room, and the key of each door (`KEY + k`: `r` `b` `y` `v`) lies in the room before it. An
    agent carries one key at a time: `pickup` takes the key it stands on, `drop` puts it down on
    plain floor, `toggle` opens a locked door of the carried key's colour next to it (the door
    becomes `_`, an open door, for good; the key is kept, as in MiniGrid, so the next key needs
    empty hands). `num_doors` (1..3) doors, `distractors` extra keys of colours no door has,
    `colours` the colours that may appear (letters of `rbyv`; a task generator holds some out),
    `size` the rooms' height (each room is (size - 1) // 2 cells wide inside). `map=` takes a
    hand-written map with keys, doors and one goal.

    `handover=True` (two agents) puts the agents on two sides of a split wall whose one gap, the
    *hatch*, both may walk through. The keys lie on the west side with agent 0, the doors and the
    goal on the east side with agent 1, and each agent works its own side: only agent 0 picks up
    keys west of the split wall, only agent 1 toggles doors. So agent 0 must fetch each key and
    drop it where agent 1 can take it (the hatch, say), and agent 1 opens the doors.

Agents:
    `num_agents` 1 (default) or 2, agent_0 and agent_1 on one team.

Observation:
    The engine's egocentric view (default 7x7) with the compass to the goal, plus one channel
    (codes 0..4): what the agent standing in each cell carries, 0 nothing, 1 + k a key of colour
    k (`COLOURS` = red, blue, yellow, violet), the observer's own at the centre. The Dict entry
    `inventory` (Discrete(5)) holds the same code of the agent itself; the text view says
    "You carry a red key." Actions are masked: an interaction is legal only when it would do
    something.

Actions:
    Discrete(8): noop, north, south, east, west, pickup, drop, toggle. Interactions happen
    before the moves.

Rewards:
    Team rewards: 1 - 0.9 * (steps taken / max_cycles) to every agent when any agent reaches
    the goal, else 0.

Termination:
    Every agent terminates when one of them reaches the goal; all are truncated at `max_cycles`.

Version History:
    v0: initial release.
    v0 (batched layouts): generated rows of rooms are drawn for every world of a batch in one call,
    from counter-based keys (`worlds.seeding`), by the same rules as before: the same
    distribution of layouts, but a seed gives another layout than before (records of earlier
    generated episodes no longer replay). Map files, rules and observations are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from gymnasium import spaces
from numba import njit

from worlds.cells import COLOURS, DOOR, FLOOR, GOAL, KEY, NUM_CELLS, OPEN_DOOR, WALL
from worlds.env import scenario_module
from worlds.kernels import time_bonus
from worlds.mapgen import spawn_agents
from worlds.maps import MapError
from worlds.scenario import Layout, Scenario, Sprite
from worlds.seeding import Draws

PICKUP, DROP, TOGGLE = 5, 6, 7
LETTERS = "rbyv"  # a colour's letter: its key's character in maps (its door's in capitals)
RGB = ((220, 50, 50), (60, 120, 240), (235, 200, 40), (160, 90, 220))  # sprite colour per colour
MAX_DISTRACTORS = 6


@dataclass(frozen=True)
class Keys(Scenario):
    max_cycles: int = 100
    size: int = 7
    num_doors: int = 1
    distractors: int = 0
    colours: str = LETTERS
    handover: bool = False

    name = "keys_v0"
    limits = {"size": (5, 25), "num_doors": (1, 3)}
    interactions = ("pickup", "drop", "toggle")
    num_cells = NUM_CELLS
    extra_channels = (1 + len(COLOURS),)
    legend_cells = (WALL, FLOOR, GOAL, *range(KEY, KEY + 4), *range(DOOR, DOOR + 4), OPEN_DOOR)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_agents > 2:
            raise ValueError(f"keys_v0: num_agents must be 1 or 2, got {self.num_agents}")
        if not isinstance(self.colours, str) or not self.colours or set(self.colours) - set(LETTERS):
            raise ValueError(f"keys_v0: colours must be letters of {LETTERS!r}, got {self.colours!r}")
        if len(set(self.colours)) != len(self.colours):
            raise ValueError(f"keys_v0: colours must not repeat a letter, got {self.colours!r}")
        if self.handover and self.num_agents != 2:
            raise ValueError(f"keys_v0: handover needs num_agents=2, got {self.num_agents}")
        if self.handover and self.map is not None:
            raise ValueError("keys_v0: handover needs a generated layout, not map=")
        if self.map is None:
            self._check_generator()

    def _check_generator(self) -> None:
        if not 5 <= self.size <= 25:
            raise ValueError(f"keys_v0: size must be 5..25, got {self.size}")
        if not 1 <= self.num_doors <= 3:
            raise ValueError(f"keys_v0: num_doors must be 1..3, got {self.num_doors}")
        if self.num_doors > len(self.colours):
            raise ValueError(
                f"keys_v0: num_doors={self.num_doors} needs as many colours, got colours={self.colours!r}"
            )
        if not 0 <= self.distractors <= MAX_DISTRACTORS:
            raise ValueError(f"keys_v0: distractors must be 0..{MAX_DISTRACTORS}, got {self.distractors}")
        if self.distractors and len(self.colours) <= self.num_doors:
            raise ValueError(
                f"keys_v0: distractors are keys of colours no door has; colours={self.colours!r} "
                f"leaves none beside {self.num_doors} door(s)"
            )
        # The fullest room: the first (every key with handover) or the one before the goal's.
        fullest = (self.num_doors if self.handover else 1) + self.distractors + self.num_agents
        if fullest > (self.size - 2) * self.room_width:
            raise ValueError(
                f"keys_v0: size={self.size} rooms hold {(self.size - 2) * self.room_width} cells, too "
                f"few for the keys, distractors={self.distractors} and agents; raise size"
            )

    # -- geometry -------------------------------------------------------------------------------
    @property
    def room_width(self) -> int:
        return (self.size - 1) // 2

    @cached_property
    def palette(self) -> np.ndarray:
        """The colour indices of `colours`, int64[K]."""
        return np.array([LETTERS.index(c) for c in self.colours], dtype=np.int64)

    @property
    def hatch_col(self) -> int:
        """The split wall's column with handover (agent 0's side is west of it), else -1."""
        return self.room_width + 1 if self.handover else -1

    def layouts(self, draws: Draws) -> Layout:
        if self.grid_map is not None:
            return super().layouts(draws)  # a map: spawns drawn world by world
        K, n = len(draws), self.num_agents
        rooms, step = self.num_doors + 1 + self.handover, self.room_width + 1
        terrain = np.empty((K, self.size, rooms * step + 1), dtype=np.uint8)
        pos, goal = np.empty((K, n, 2), dtype=np.int64), np.empty((K, n, 2), dtype=np.int64)
        count = rooms - 1 + len(self.colours) + 1 + self.num_doors + 3 * self.distractors + n
        build_room_rows(
            draws.uniform(count), step, self.num_doors, self.distractors, self.handover, self.palette,
            terrain, pos, goal,
        )  # fmt: skip
        return Layout(terrain, pos, goal, {"inventory": np.zeros((K, n), dtype=np.int8)})

    def layout(self, rng: np.random.Generator) -> Layout:
        """A map's start (generated rows of rooms come from `layouts`, a batch at a time)."""
        if self.grid_map is None:
            return super().layout(rng)
        return self._map_layout(rng)

    def _map_layout(self, rng: np.random.Generator) -> Layout:
        grid = self.grid_map
        if len(grid.goals) != 1:
            raise MapError(grid.source, 1, 1, f"keys_v0 needs exactly one goal 'G', found {len(grid.goals)}")
        items = np.argwhere((grid.terrain >= KEY) & (grid.terrain < KEY + 4))
        pos = spawn_agents(grid, self.num_agents, rng, avoid=np.concatenate([grid.goals, items]))
        goal = np.repeat(grid.goals[:1], self.num_agents, axis=0)
        return Layout(grid.terrain.copy(), pos, goal, {"inventory": np.zeros(self.num_agents, dtype=np.int8)})

    # -- rules ----------------------------------------------------------------------------------
    def interaction_mask(self, state) -> np.ndarray:
        mask = np.empty((*state.alive.shape, 3), dtype=bool)
        keys_mask(
            state.terrain, state.pos, state.alive, state.pad, state.extra["inventory"], self.hatch_col, mask
        )
        return mask

    def interact(self, state, actions):
        done = np.empty(state.alive.shape, dtype=np.int8)
        actions = np.asarray(actions, dtype=np.int64)
        keys_interact(
            state.terrain,
            state.pos,
            state.alive,
            state.pad,
            state.extra["inventory"],
            actions,
            self.hatch_col,
            done,
        )
        return {"interacted": done}  # per agent: the interaction that happened (0 none, 5..7)

    def judge(self, state, actions, events):
        rewards = np.empty(state.alive.shape, dtype=np.float64)
        won = np.empty(state.alive.shape, dtype=bool)
        keys_judge(state.terrain, state.pos, state.alive, state.pad, state.t, self.max_cycles, rewards, won)
        return rewards, won

    # -- what agents perceive -------------------------------------------------------------------
    def fill_views(self, state, present, views) -> None:
        carried_views(state.pos, present, state.extra["inventory"], views)

    def extra_spaces(self) -> dict:
        return {"inventory": spaces.Discrete(1 + len(COLOURS))}

    def extra_observations(self, state) -> dict[str, np.ndarray]:
        return {"inventory": state.extra["inventory"].astype(np.int64)}

    def status_words(self, state, world: int, agent: int) -> list[str]:
        held = int(state.extra["inventory"][world, agent])
        return [f"You carry a {COLOURS[held - 1]} key." if held else "You carry nothing."]

    def sprites(self, state, world: int) -> list[Sprite]:
        held = state.extra["inventory"][world]
        return [
            Sprite(int(state.pos[world, i, 0]), int(state.pos[world, i, 1]), "carried_key", RGB[held[i] - 1])
            for i in np.flatnonzero(state.alive[world] & (held > 0))
        ]

    def goal_words(self, agent: int) -> str:
        if not self.handover:
            return (
                "reach the goal G behind the locked doors; pick up a key (stand on it, pickup), "
                "toggle next to the door of its colour to open it, drop a key to free your hands"
            )
        if agent == 0:
            return (
                "you fetch the keys on the west side and drop them where your teammate can take "
                "them (the gap in the wall); only your teammate can open doors; either of you "
                "reaching the goal G wins for both"
            )
        return (
            "you open the doors: pick up the keys your teammate brings (only it can pick up keys "
            "west of the wall), toggle next to the door of the key's colour, then reach the goal G"
        )


@njit(cache=True)
def build_room_rows(u, step, num_doors, distractors, handover, palette, terrain, pos, goal):
    """`build_rooms` for every world k of a batch, from its row of draws `u[k]`."""
    for k in range(u.shape[0]):
        build_rooms(u[k], step, num_doors, distractors, handover, palette, terrain[k], pos[k], goal[k])


@njit(cache=True)
def build_rooms(u, step, num_doors, distractors, handover, palette, terrain, pos, goal):
    """A row of rooms `step - 1` cells wide inside into `terrain` uint8[H, W], from the uniform
    draws `u` in order: the gap row of each wall, a shuffle of `palette` (the first `num_doors`
    colours are the doors', west to east, the rest the distractors'), the goal (last room), each
    door's key (the room before the door; with `handover` the first room), the distractors
    (room, cell, colour) and the spawns (agent 0 in the first room, agent 1 beside it, or with
    `handover` in the second). The wall after the first room has a plain gap with `handover`."""
    H, W = terrain.shape
    rooms = (W - 1) // step
    n = 0
    for y in range(H):
        for x in range(W):
            inside = 0 < y < H - 1 and 0 < x < W - 1 and x % step != 0
            terrain[y, x] = FLOOR if inside else WALL
    gaps = np.empty(rooms - 1, np.int64)
    for w in range(rooms - 1):
        gaps[w] = 1 + int(u[n] * (H - 2))
        n += 1
    colours = palette.copy()
    for k in range(len(colours) - 1, 0, -1):  # Fisher-Yates, one draw per swap
        j = int(u[n] * (k + 1))
        n += 1
        colours[k], colours[j] = colours[j], colours[k]
    n += 1  # (the shuffle's unused last draw keeps the count simple)
    for w in range(rooms - 1):
        door = w - handover
        terrain[gaps[w], (w + 1) * step] = FLOOR if door < 0 else DOOR + colours[door]
    gr, gc = _free_cell(terrain, rooms - 1, step, u[n], -1, -1)
    n += 1
    terrain[gr, gc] = GOAL
    for i in range(goal.shape[0]):  # every agent's goal (the view's compass)
        goal[i, 0], goal[i, 1] = gr, gc
    for door in range(num_doors):
        r, c = _free_cell(terrain, 0 if handover else door, step, u[n], -1, -1)
        n += 1
        terrain[r, c] = KEY + colours[door]
    spare = len(colours) - num_doors
    for _ in range(distractors):
        room = 0 if handover else int(u[n] * num_doors)
        r, c = _free_cell(terrain, room, step, u[n + 1], -1, -1)
        terrain[r, c] = KEY + colours[num_doors + int(u[n + 2] * spare)]
        n += 3
    for i in range(pos.shape[0]):
        room = (1 if handover else 0) if i > 0 else 0
        pos[i, 0], pos[i, 1] = _free_cell(
            terrain, room, step, u[n], pos[0, 0] if i else -1, pos[0, 1] if i else -1
        )
        n += 1


@njit(cache=True)
def _free_cell(terrain, room, step, draw, skip_r, skip_c):
    """A uniformly drawn plain floor cell of room `room` (not (skip_r, skip_c)), as (row, col)."""
    H = terrain.shape[0]
    count = 0
    for y in range(1, H - 1):
        for x in range(room * step + 1, (room + 1) * step):
            count += terrain[y, x] == FLOOR and not (y == skip_r and x == skip_c)
    k = int(draw * count)
    for y in range(1, H - 1):
        for x in range(room * step + 1, (room + 1) * step):
            if terrain[y, x] == FLOOR and not (y == skip_r and x == skip_c):
                if k == 0:
                    return y, x
                k -= 1
    return -1, -1


@njit(cache=True)
def keys_mask(terrain, pos, alive, pad, inventory, hatch_col, mask):
    """keys_v0's interactions, legal only when they would do something: pickup on a key with
    empty hands (with handover, agent 1 not west of the split wall), drop with a key on plain
    floor, toggle with a key next to a locked door of its colour (with handover, agent 1 only)."""
    B, N = alive.shape
    for b in range(B):
        for i in range(N):
            r, c = pos[b, i, 0] + pad, pos[b, i, 1] + pad
            cell, held = terrain[b, r, c], inventory[b, i]
            live = alive[b, i]
            mine = hatch_col < 0 or i == 0 or pos[b, i, 1] >= hatch_col
            mask[b, i, 0] = live and held == 0 and KEY <= cell < KEY + 4 and mine
            mask[b, i, 1] = live and held > 0 and cell == FLOOR
            door = DOOR + held - 1
            near = (
                terrain[b, r - 1, c] == door
                or terrain[b, r + 1, c] == door
                or terrain[b, r, c - 1] == door
                or terrain[b, r, c + 1] == door
            )
            mask[b, i, 2] = live and held > 0 and near and (hatch_col < 0 or i > 0)


@njit(cache=True)
def keys_interact(terrain, pos, alive, pad, inventory, actions, hatch_col, done):
    """keys_v0, before moves, in place: pickup moves the key under the agent into its empty hands
    (the cell becomes floor), drop puts its key on the plain floor under it, toggle opens every
    locked door of its key's colour next to it (the key is kept). Actions the mask would refuse
    do nothing; `done` int8[B, N] records the interaction that happened (0 for none)."""
    B, N = alive.shape
    for b in range(B):
        for i in range(N):
            done[b, i] = 0
            a = actions[b, i]
            if not alive[b, i] or a < PICKUP:
                continue
            r, c = pos[b, i, 0] + pad, pos[b, i, 1] + pad
            cell, held = terrain[b, r, c], inventory[b, i]
            if a == PICKUP:
                mine = hatch_col < 0 or i == 0 or pos[b, i, 1] >= hatch_col
                if held == 0 and KEY <= cell < KEY + 4 and mine:
                    inventory[b, i] = cell - KEY + 1
                    terrain[b, r, c] = FLOOR
                    done[b, i] = a
            elif a == DROP:
                if held > 0 and cell == FLOOR:
                    terrain[b, r, c] = KEY + held - 1
                    inventory[b, i] = 0
                    done[b, i] = a
            elif a == TOGGLE and held > 0 and (hatch_col < 0 or i > 0):
                door = DOOR + held - 1
                for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                    if terrain[b, r + dr, c + dc] == door:
                        terrain[b, r + dr, c + dc] = OPEN_DOOR
                        done[b, i] = a


@njit(cache=True)
def keys_judge(terrain, pos, alive, pad, t, max_cycles, rewards, won):
    """keys_v0, after moves: a live agent on the goal wins for the team: every agent scores the
    time bonus and terminates."""
    B, N = alive.shape
    for b in range(B):
        hit = False
        for i in range(N):
            hit = hit or (alive[b, i] and terrain[b, pos[b, i, 0] + pad, pos[b, i, 1] + pad] == GOAL)
        bonus = time_bonus(t[b], max_cycles) if hit else 0.0
        for i in range(N):
            rewards[b, i] = bonus
            won[b, i] = hit


@njit(cache=True)
def carried_views(pos, present, inventory, views):
    """The carried-key channel (index 3) of every view: each present agent's inventory code on
    its cell, the observer's own at the centre, 0 elsewhere."""
    B, N, V = views.shape[0], views.shape[1], views.shape[2]
    r = V // 2
    for b in range(B):
        for i in range(N):
            view = views[b, i]
            for y in range(V):
                for x in range(V):
                    view[y, x, 3] = 0
            if not present[b, i]:
                continue
            for j in range(N):
                dy, dx = pos[b, j, 0] - pos[b, i, 0], pos[b, j, 1] - pos[b, i, 1]
                if present[b, j] and -r <= dy <= r and -r <= dx <= r:
                    view[dy + r, dx + r, 3] = inventory[b, j]


def task_family(rng: np.random.Generator, split: str) -> tuple[dict, float]:
    """A keys_v0 config for the task generator and its difficulty (doors count most, then
    distractors and size). "train" never shows violet; every "test" config has violet among its
    colours (and may also be larger, with three doors or two distractors), so the two splits
    draw from disjoint knob combinations."""
    if split not in ("train", "test"):
        raise ValueError(f"keys_v0 task_family: split must be 'train' or 'test', got {split!r}")
    test = split == "test"
    size = int(rng.choice([5, 7, 9] if test else [5, 7]))
    num_doors = int(rng.integers(1, 4 if test else 3))
    distractors = int(rng.integers(0, 3 if test else 2))
    need = num_doors + (distractors > 0)  # distractors take colours no door has
    others = "rby"
    count = int(rng.integers(max(need - test, 1), len(others) + 1))  # colours besides violet
    chosen = set(rng.permutation(list(others))[:count].tolist()) | ({"v"} if test else set())
    colours = "".join(c for c in LETTERS if c in chosen)
    max_cycles = int(100 * (num_doors + 1) / 2 * size / 7)
    config = {
        "size": size,
        "num_doors": num_doors,
        "distractors": distractors,
        "colours": colours,
        "max_cycles": max_cycles,
    }
    return config, num_doors + 0.5 * distractors + (size - 5) / 4


env, parallel_env = scenario_module(Keys)
