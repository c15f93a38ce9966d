"""flags_v0: compete (team capture the flag).

Description:
    Two teams, west (base `<`) and east (base `>`), on a map whose east half mirrors the west
    half: `size` rows and 2 * `size` columns with random wall blocks (`walls`, the share of
    inner cells), or a map (`map=`, one `<` and one `>`). Each team's flag starts on its base.
    A live agent stepping onto the rival flag picks it up and carries it; standing with it on
    its own base scores a capture for its team (the own flag need not be home) and the flag
    goes back to its base. On its own half an agent may `tag`: every rival next to it on that
    half is sent back to its spawn (or another free spawn cell of its team; it stays if all are
    taken), its move that step is cancelled, and a flag it carries goes back to its base.

Agents:
    `num_agents` (default 4, an even 2..10): the first half `west_0, west_1, ...` (team 0),
    the second half `east_0, ...` (team 1). Each sees teammates and rivals as such.

Observation:
    The engine's egocentric view, whose goal compass points to the agent's own base (where a
    carried flag scores), plus two channels. Flags (codes 0..4): 1 the
    observer's own flag on the ground, 2 the rival flag on the ground, 3 an agent carrying the
    rival flag (a teammate or itself), 4 a rival carrying the observer's own flag. Territory
    (codes 0..2): 1 the observer's half, 2 the rival half, 0 the neutral middle column of an odd
    map and off the map. The Dict observation adds `carrying` (int8[1], 1 while carrying) and
    `score` (int32[2]: own team's captures, then the rivals').

Actions:
    Discrete(6): noop, north, south, east, west, tag. `tag` is legal on one's own half next to
    a rival on that half.

Rewards:
    Zero-sum per capture: +1 to every agent of the capturing team, -1 to every rival. With
    `pickup_bonus` (default 0, a shaping for learners) picking up the rival flag pays that much
    to the team and costs the rivals as much; a carrier tagged on the way home gives it back.

Termination:
    Everyone terminates on the step a team reaches `score_limit` captures (default 2); all are
    truncated at `max_cycles` (default 200).

Version History:
    v0: initial release.
    v0 (batched layouts): generated fields are drawn for every world of a batch in one call,
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

from worlds.cells import BASE, FLOOR, NUM_CELLS, PASSABLE, WALL
from worlds.env import scenario_module
from worlds.maps import MapError
from worlds.scenario import NOOP, Layout, Scenario, Sprite
from worlds.seeding import Draws

TAG = 5
WEST, EAST = 0, 1
TEAM_COLOURS = ((230, 80, 60), (70, 130, 240))
NEIGHBOURS = np.array([(-1, 0), (1, 0), (0, 1), (0, -1)], dtype=np.int64)


@dataclass(frozen=True)
class Flags(Scenario):
    num_agents: int = 4
    max_cycles: int = 200
    size: int = 9
    walls: float = 0.15
    score_limit: int = 2
    pickup_bonus: float = 0.0  # shaping: to the team that picks up the rival flag (rivals lose it)

    name = "flags_v0"
    limits = {"size": (5, 25), "walls": (0.0, 0.4), "score_limit": (1, 100), "pickup_bonus": (0.0, 1.0)}
    team_names = ("west", "east")
    interactions = ("tag",)
    num_cells = NUM_CELLS
    legend_cells = (WALL, FLOOR, BASE, BASE + 1)
    extra_channels = (5, 3)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_agents % 2 or self.num_agents < 2:
            raise ValueError(f"flags_v0: num_agents must be even (two equal teams), got {self.num_agents}")
        if not 1 <= self.score_limit <= 100:
            raise ValueError(f"flags_v0: score_limit must be 1..100, got {self.score_limit}")
        if not 0.0 <= self.walls <= 0.4:
            raise ValueError(f"flags_v0: walls must be 0..0.4, got {self.walls}")
        if not 0.0 <= self.pickup_bonus <= 1.0:  # also false for nan
            raise ValueError(f"flags_v0: pickup_bonus must be 0..1, got {self.pickup_bonus}")
        if self.map is None and not 5 <= self.size <= 25:
            raise ValueError(f"flags_v0: size must be 5..25, got {self.size}")
        if self.map is None and self.num_agents // 2 > self.size - 2:
            raise ValueError(
                f"flags_v0: size {self.size} has no room for {self.num_agents // 2} spawns a team"
            )

    @cached_property
    def teams(self) -> np.ndarray:
        return (np.arange(self.num_agents) >= self.num_agents // 2).astype(np.int64)

    # -- layout -------------------------------------------------------------------------------
    def layouts(self, draws: Draws) -> Layout:
        if self.grid_map is not None:
            return super().layouts(draws)  # a map: spawns drawn world by world
        K = len(draws)
        terrain = mirrored_fields(self.size, self.walls, draws)
        h, w = terrain.shape[1:]
        row = h // 2
        bases = np.array([(row, 1), (row, w - 2)])
        terrain[:, row, 1], terrain[:, row, w - 2] = BASE + WEST, BASE + EAST
        half = self.num_agents // 2
        # Spawns in column 2 from the base's row outwards, mirrored for the east team.
        rows = sorted(range(1, h - 1), key=lambda r: (abs(r - row), r))[:half]
        spawn = np.array([(r, 2) for r in rows] + [(r, w - 3) for r in rows])
        terrain[:, spawn[:, 0], spawn[:, 1]] = FLOOR  # spawns are never walled in
        return self._layouts(terrain, np.repeat(spawn[None], K, 0), np.repeat(bases[None], K, 0))

    def layout(self, rng: np.random.Generator) -> Layout:
        """A map's start, spawns drawn from `rng` (generated fields come from `layouts`, a batch
        at a time)."""
        if self.grid_map is None:
            return super().layout(rng)
        return self._map_layout(rng)

    def _map_layout(self, rng: np.random.Generator) -> Layout:
        grid = self.grid_map
        bases = []
        for team, char in ((WEST, "<"), (EAST, ">")):
            cells = np.argwhere(grid.terrain == BASE + team)
            if len(cells) != 1:
                raise MapError(
                    grid.source, 1, 1, f"flags_v0 needs exactly one {char!r} base, found {len(cells)}"
                )
            bases.append(cells[0])
        w = grid.terrain.shape[1]
        spawn = np.zeros((self.num_agents, 2), dtype=np.int64)
        taken = {tuple(c) for c in bases} | {grid.spawns[i] for i in grid.spawns if i < self.num_agents}
        for i, team in enumerate(self.teams.tolist()):
            if i in grid.spawns:
                spawn[i] = grid.spawns[i]
                continue
            # A free cell on its own half, nearest its base first (ties broken by the draw).
            cells = [
                (r, c)
                for r, c in np.argwhere(np.take(PASSABLE, grid.terrain)).tolist()
                if side(c, w) == team and (r, c) not in taken
            ]
            if not cells:
                raise MapError(
                    grid.source, 1, 1, f"flags_v0: no free cell on the {self.team_names[team]} half"
                )
            base = bases[team]
            noise = rng.random(len(cells)).tolist()
            best = min(
                range(len(cells)),
                key=lambda k: abs(cells[k][0] - base[0]) + abs(cells[k][1] - base[1]) + noise[k],
            )
            spawn[i] = cells[best]
            taken.add(cells[best])
        lay = self._layouts(grid.terrain[None].copy(), spawn[None], np.array(bases)[None])
        return Layout(lay.terrain[0], lay.pos[0], lay.goal[0], {k: v[0] for k, v in lay.extra.items()})

    def _layouts(self, terrain: np.ndarray, spawn: np.ndarray, bases: np.ndarray) -> Layout:
        """The starts of K worlds from their fields, spawns int[K, N, 2] and bases int[K, 2, 2]."""
        K = len(terrain)
        extra = {
            "spawn": spawn.astype(np.int32),
            "base": bases.astype(np.int32),  # [K, 2, 2]: each team's base cell
            "flag": bases.astype(np.int32),  # [K, 2, 2]: where each team's flag is
            "carrier": np.full((K, 2), -1, dtype=np.int32),  # who carries each team's flag, -1 nobody
            "score": np.zeros((K, 2), dtype=np.int32),
        }
        home = bases[:, self.teams]  # the goal compass points home: where a carried flag scores
        return Layout(terrain, spawn.copy(), home.astype(np.int32), extra)

    # -- rules --------------------------------------------------------------------------------
    def interaction_mask(self, state) -> np.ndarray:
        out = np.empty((*state.alive.shape, 1), dtype=bool)
        tag_mask(state.pos, state.alive, self._teams64, state.shape[1], out)
        return out

    def interact(self, state, actions):
        tagged = np.zeros(state.alive.shape, dtype=bool)
        dropped = np.zeros((state.alive.shape[0], 2), dtype=bool)
        x = state.extra
        # The engine moves by this very `actions` array: a tagged agent's move becomes a noop.
        flags_tag(
            state.pos, state.alive, actions, self._teams64, state.shape[1],
            x["spawn"], x["base"], x["flag"], x["carrier"], tagged, dropped,
        )  # fmt: skip
        return {"tagged": tagged, "dropped": dropped}

    def judge(self, state, actions, events):
        rewards = np.zeros(state.alive.shape, dtype=np.float64)
        terminated = np.zeros(state.alive.shape, dtype=bool)
        captured = np.zeros((state.alive.shape[0], 2), dtype=bool)
        x = state.extra
        flags_judge(
            state.pos, state.alive, self._teams64, x["base"], x["flag"], x["carrier"], x["score"],
            self.score_limit, float(self.pickup_bonus), rewards, terminated, captured,
        )  # fmt: skip
        events["captured"] = captured
        if self.pickup_bonus:  # a flag lost to a tag takes its pickup bonus back: no farming
            dropped = events["dropped"].astype(np.float64)
            rewards += self.pickup_bonus * (dropped[:, self.teams] - dropped[:, 1 - self.teams])
        return rewards, terminated

    @cached_property
    def _teams64(self) -> np.ndarray:
        return np.asarray(self.teams, dtype=np.int64)

    # -- what agents perceive -----------------------------------------------------------------
    def fill_views(self, state, present, views) -> None:
        x = state.extra
        flag_views(state.pos, present, self._teams64, state.shape[1], x["flag"], x["carrier"], views)

    def extra_spaces(self) -> dict:
        return {
            "carrying": spaces.Box(0, 1, (1,), dtype=np.int8),
            "score": spaces.Box(0, self.score_limit, (2,), dtype=np.int32),
        }

    def extra_observations(self, state) -> dict[str, np.ndarray]:
        carrier, score = state.extra["carrier"], state.extra["score"]
        agents = np.arange(state.alive.shape[1])
        carrying = (carrier[:, :, None] == agents).any(1)[..., None].astype(np.int8)
        own = score[:, self.teams]  # [B, N]
        rival = score[:, 1 - self.teams]
        return {"carrying": carrying, "score": np.stack([own, rival], -1).astype(np.int32)}

    def status_words(self, state, world: int, agent: int) -> list[str]:
        x = state.extra
        team = int(self.teams[agent])
        names = self.team_names
        w = state.shape[1]
        here = state.pos[world, agent]
        where = {team: "your own half", 1 - team: "the rival half", -1: "the middle"}[side(int(here[1]), w)]
        own, rival = x["score"][world, team], x["score"][world, 1 - team]
        lines = [
            f"Score: {names[team]} (yours) {own}, {names[1 - team]} {rival}; first to {self.score_limit} "
            f"wins. You are on {where}."
        ]
        for k, whose in ((1 - team, "The rival flag"), (team, "Your flag")):
            holder = int(x["carrier"][world, k])
            if holder == agent:
                lines.append(f"{whose}: you carry it; take it to your base.")
            elif holder >= 0:
                lines.append(f"{whose}: carried by {self.agent_names[holder]}.")
            else:
                dy, dx = (x["flag"][world, k] - here).tolist()
                home = (
                    "at its base" if (x["flag"][world, k] == x["base"][world, k]).all() else "on the ground"
                )
                lines.append(f"{whose} is {home}, {_offset_words(dy, dx)}.")
        return lines

    def sprites(self, state, world: int) -> list[Sprite]:
        x = state.extra
        out = []
        for k in (WEST, EAST):
            holder = int(x["carrier"][world, k])
            if holder >= 0:
                y, c = state.pos[world, holder].tolist()
                out.append(Sprite(y, c, "carried_flag", TEAM_COLOURS[k]))
            else:
                y, c = x["flag"][world, k].tolist()
                out.append(Sprite(y, c, "flag", TEAM_COLOURS[k]))
        return out

    def goal_words(self, agent: int) -> str:
        return (
            "capture the rival flag: step onto it to carry it, bring it to your own base; on your own "
            "half, tag rivals next to you to send them back to their spawn"
        )


def side(col: int, width: int) -> int:
    """Which team's half a column is: 0 west, 1 east, -1 the middle column of an odd width."""
    twice = 2 * col
    return WEST if twice < width - 1 else EAST if twice > width - 1 else -1


def _offset_words(dy: int, dx: int) -> str:
    parts = [f"{abs(dy)} {'north' if dy < 0 else 'south'}"] if dy else []
    parts += [f"{abs(dx)} {'west' if dx < 0 else 'east'}"] if dx else []
    return " and ".join(parts) or "right here"


def mirrored_fields(size: int, walls: float, draws: Draws) -> np.ndarray:
    """K fields of `size` rows, 2 * `size` columns, uint8[K, size, 2 * size]: a walled room whose
    west half has random wall cells (a `walls` share of its inner cells, kept only where the half
    stays connected) and whose east half is its mirror image."""
    h, half = size, size
    west = np.full((len(draws), h, half), FLOOR, dtype=np.uint8)
    west[:, [0, -1], :] = WALL
    west[:, :, 0] = WALL
    cells = np.array([(r, c) for r in range(1, h - 1) for c in range(3, half)], np.int64).reshape(-1, 2)
    place_walls(west, cells, draws.uniform(len(cells)), walls)  # columns 1-2 stay free: base, spawns
    return np.concatenate([west, west[:, :, ::-1]], axis=2)


@njit(cache=True)
def place_walls(grids, cells, draws, share):
    """`_place_walls` in every world k of a batch, from its row of draws."""
    for k in range(grids.shape[0]):
        _place_walls(grids[k], cells, draws[k], share)


@njit(cache=True)
def _place_walls(grid, cells, draws, share):
    """Walls on the `cells` whose draw is below `share`, in order, each kept only if the floor
    of the half stays one region (checked by a flood fill) that still reaches the half's open
    east edge, where it joins its mirror: a wall across the whole edge column would cut the
    field in two. In place on `grid` uint8[H, W]."""
    H, W = grid.shape
    seen = np.zeros((H, W), np.bool_)
    queue = np.empty(H * W, np.int64)
    for k in range(len(cells)):
        if draws[k] >= share:
            continue
        r, c = cells[k, 0], cells[k, 1]
        grid[r, c] = WALL
        if not (_connected(grid, seen, queue) and _open_edge(grid)):
            grid[r, c] = FLOOR


@njit(cache=True)
def _open_edge(grid):
    """Whether the last column of `grid` holds a FLOOR cell."""
    for r in range(grid.shape[0]):
        if grid[r, grid.shape[1] - 1] == FLOOR:
            return True
    return False


@njit(cache=True)
def _connected(grid, seen, queue):
    """Whether the FLOOR cells of `grid` form one region (4-neighbours); `seen` and `queue`
    are scratch arrays of the grid's size."""
    H, W = grid.shape
    free = 0
    start = -1
    for r in range(H):
        for c in range(W):
            seen[r, c] = False
            if grid[r, c] == FLOOR:
                free += 1
                if start < 0:
                    start = r * W + c
    if free == 0:
        return True
    head, tail = 0, 1
    queue[0] = start
    seen[start // W, start % W] = True
    while head < tail:
        r, c = queue[head] // W, queue[head] % W
        head += 1
        for dr, dc in ((-1, 0), (1, 0), (0, 1), (0, -1)):
            y, x = r + dr, c + dc
            if 0 <= y < H and 0 <= x < W and not seen[y, x] and grid[y, x] == FLOOR:
                seen[y, x] = True
                queue[tail] = y * W + x
                tail += 1
    return tail == free


@njit(cache=True)
def _side(col, width):
    twice = 2 * col
    if twice < width - 1:
        return 0
    if twice > width - 1:
        return 1
    return -1


@njit(cache=True)
def tag_mask(pos, alive, teams, width, out):
    """flags_v0's mask: `tag` is legal for a live agent on its own half with a live rival next
    to it on that half."""
    B, N = alive.shape
    for b in range(B):
        for i in range(N):
            ok = False
            if alive[b, i] and _side(pos[b, i, 1], width) == teams[i]:
                for j in range(N):
                    gap = abs(pos[b, j, 0] - pos[b, i, 0]) + abs(pos[b, j, 1] - pos[b, i, 1])
                    if (
                        alive[b, j]
                        and teams[j] != teams[i]
                        and gap == 1
                        and _side(pos[b, j, 1], width) == teams[i]
                    ):
                        ok = True
            out[b, i, 0] = ok


@njit(cache=True)
def flags_tag(pos, alive, actions, teams, width, spawn, base, flag, carrier, tagged, dropped):
    """flags_v0, before moves: a live agent tagging on its own half catches every live rival
    next to it on that half. A caught agent's flag goes home (`dropped[b, k]`: team k's flag
    went home so), its move is cancelled and it is sent to its spawn, or the first free spawn
    of its team, or stays if none is free."""
    B, N = alive.shape
    for b in range(B):
        for i in range(N):
            if not (alive[b, i] and actions[b, i] == TAG and _side(pos[b, i, 1], width) == teams[i]):
                continue
            for j in range(N):
                gap = abs(pos[b, j, 0] - pos[b, i, 0]) + abs(pos[b, j, 1] - pos[b, i, 1])
                if (
                    alive[b, j]
                    and teams[j] != teams[i]
                    and gap == 1
                    and _side(pos[b, j, 1], width) == teams[i]
                ):
                    tagged[b, j] = True
        for j in range(N):
            if not tagged[b, j]:
                continue
            actions[b, j] = NOOP
            for k in range(2):
                if carrier[b, k] == j:
                    carrier[b, k] = -1
                    dropped[b, k] = True
                    flag[b, k, 0], flag[b, k, 1] = base[b, k, 0], base[b, k, 1]
            for s in range(N + 1):  # its own spawn first, then its team's in order
                m = j if s == 0 else s - 1
                if teams[m] != teams[j]:
                    continue
                free = True
                for a in range(N):
                    if (
                        a != j
                        and alive[b, a]
                        and pos[b, a, 0] == spawn[b, m, 0]
                        and pos[b, a, 1] == spawn[b, m, 1]
                    ):
                        free = False
                if free:
                    pos[b, j, 0], pos[b, j, 1] = spawn[b, m, 0], spawn[b, m, 1]
                    break


@njit(cache=True)
def flags_judge(
    pos, alive, teams, base, flag, carrier, score, score_limit, pickup_bonus, rewards, terminated, captured
):
    """flags_v0, after moves: a live agent on the rival flag (on the ground) picks it up
    (`pickup_bonus` to its team, minus that to the rivals); a carried flag moves with its
    carrier; a carrier on its own base captures (+1 to its team, -1 to the rivals, the flag goes
    home); everyone terminates once a team has `score_limit`."""
    B, N = alive.shape
    for b in range(B):
        for i in range(N):
            k = 1 - teams[i]
            if (
                alive[b, i]
                and carrier[b, k] < 0
                and pos[b, i, 0] == flag[b, k, 0]
                and pos[b, i, 1] == flag[b, k, 1]
            ):
                carrier[b, k] = i
                for a in range(N):
                    rewards[b, a] += pickup_bonus if teams[a] == teams[i] else -pickup_bonus
        for k in range(2):
            i = carrier[b, k]
            if i < 0:
                continue
            flag[b, k, 0], flag[b, k, 1] = pos[b, i, 0], pos[b, i, 1]
            team = teams[i]
            if pos[b, i, 0] == base[b, team, 0] and pos[b, i, 1] == base[b, team, 1]:
                captured[b, team] = True
                score[b, team] += 1
                carrier[b, k] = -1
                flag[b, k, 0], flag[b, k, 1] = base[b, k, 0], base[b, k, 1]
                for a in range(N):
                    rewards[b, a] += 1.0 if teams[a] == team else -1.0
        won = score[b, 0] >= score_limit or score[b, 1] >= score_limit
        for a in range(N):
            terminated[b, a] = won


@njit(cache=True)
def flag_views(pos, present, teams, width, flag, carrier, views):
    """flags_v0's channels of views uint8[B, N, V, V, 5]: channel 3 the flags seen from the
    observer (1 own flag on the ground, 2 rival flag on the ground, 3 a carrier of the rival
    flag, 4 a carrier of the observer's flag), channel 4 the territory (1 own half, 2 rival)."""
    B, N, V = views.shape[0], views.shape[1], views.shape[2]
    r = V // 2
    column = np.empty(V, np.uint8)  # the territory code of each view column, per observer
    for b in range(B):
        for i in range(N):
            top, left = pos[b, i, 0] - r, pos[b, i, 1] - r
            for x in range(V):
                s = _side(left + x, width)
                column[x] = 0 if s < 0 else (1 if s == teams[i] else 2)
            view = views[b, i]
            for y in range(V):
                for x in range(V):
                    view[y, x, 3] = 0
                    view[y, x, 4] = column[x] if view[y, x, 0] != 0 else 0  # 0: VOID off the map
            for k in range(2):
                fy, fx = flag[b, k, 0] - top, flag[b, k, 1] - left
                holder = carrier[b, k]
                if holder >= 0 and not present[b, holder]:
                    continue
                if 0 <= fy < V and 0 <= fx < V:
                    own = k == teams[i]
                    if holder < 0:
                        views[b, i, fy, fx, 3] = 1 if own else 2
                    else:
                        views[b, i, fy, fx, 3] = 4 if own else 3


# The task generator's knobs: team sizes and wall shares seen in training, and held out.
# every task draws walls, so each layout seed gives its own level (an open field is one level)
TRAIN_KNOBS = ((2, 0.15), (2, 0.25), (4, 0.15))
TEST_KNOBS = ((4, 0.25), (6, 0.15), (2, 0.3))


def task_family(rng: np.random.Generator, split: str) -> tuple[dict, float]:
    """A flags_v0 config and its difficulty: "train" and "test" draw (num_agents, walls) from
    disjoint pairs; sizes 9/11 and score limits 1..2 from the same ranges. Difficulty grows
    with the field's width, the walls, the teams and the captures needed."""
    if split not in ("train", "test"):
        raise ValueError(f"flags_v0 task_family: split must be 'train' or 'test', got {split!r}")
    knobs = TRAIN_KNOBS if split == "train" else TEST_KNOBS
    num_agents, walls = knobs[int(rng.integers(len(knobs)))]
    size = int(rng.choice((9, 11)))  # room for walls: no two tasks on one bare field
    score_limit = int(rng.integers(1, 3))
    config = {
        "num_agents": num_agents,
        "walls": walls,
        "size": size,
        "score_limit": score_limit,
        "max_cycles": 20 * size,
    }
    return config, float(size / 9 * score_limit * (1 + walls) * (1 + 0.1 * num_agents))


env, parallel_env = scenario_module(Flags)
