"""harvest_v0: share a commons (after Melting Pot's commons_harvest).

Description:
    Apples `a` grow in patches of an orchard, in a `size` x `size` walled field (`patches`
    round patches of 13 cells, drawn at random) or a map (`map=`, its `a` cells). An agent
    collects an apple by standing on it. An empty orchard cell (one that held an apple at the
    start, with no agent on it) regrows an apple each step with a probability that grows with
    the apples within radius 2 of it (the 12 cells at Euclidean distance <= 2): the `regrowth`
    table, indexed by that count (the last entry for any count beyond it), default 0 for none,
    0.005 for 1-2, 0.02 for 3-4 and 0.05 for 5 or more. A patch stripped bare never comes
    back: the agents share a commons that greedy harvesting destroys.

    `zap` fires a beam in the direction of the agent's last move (north before its first),
    up to `beam_length` cells, stopped by walls. The first agent it meets is frozen for
    `freeze_steps` steps: off the board (it cannot act, move, block, be seen or collect), at
    its cell. It comes back where it was frozen once its time is up and nobody stands there
    (else it waits off the board until the cell is free; agents come back in index order).
    Zaps land before anyone moves and see the board as it was, so two agents can zap each
    other. After a zap the zapper waits `zap_cooldown` steps before the next; each zap costs it
    `zap_cost` (default 0).

    Regrowth draws are a counter-based hash (splitmix64) of a per-world seed drawn at layout
    time, the step and the cell, so worlds need no random generator while stepping: a batch
    world replays a single env exactly and a saved state replays its future.

Agents:
    `num_agents` (default 4, at most 10): harvester_0, harvester_1, ... all on one team.

Observation:
    The engine's egocentric view (default 7x7; cell codes of all `NUM_CELLS`, no goal compass)
    with one extra channel, the agent's own beam: 1 on the cells a zap would sweep now (ready),
    2 on them while the zap recharges, 0 elsewhere (the beam's direction is the agent's last
    move, which the view does not otherwise show). Frozen agents are not in anyone's view. Plus
    `action_mask`; `obs_type="view"` or `"text"` as for every scenario (the text view says
    where the beam points, whether it is ready, how long the agent stays frozen).

Actions:
    Discrete(6): noop, north, south, east, west, zap. `zap` is legal for an agent on the board
    whose zap has recharged; a frozen agent may only noop.

Rewards:
    +1 for each apple collected, minus `zap_cost` for each zap fired. Individual rewards.

Termination:
    Every agent is truncated at `max_cycles` (default 500). When the last apple is gone, the
    orchard is dead for good and every agent terminates. `success` is the commons surviving:
    an episode that ends with apples still on the map (random play, which hardly harvests,
    succeeds too: judge harvesting by the social metrics).

Social metrics (Perolat et al. 2017, as Melting Pot reports them), per episode so far, in the
batch env's `infos["events"]` every step (`collective_return`, `equality`, `sustainability`,
`peace`, float64[B]) and from any state by `social_metrics(state)` (on `infos["final_state"]`
for the episodes that just ended):
    collective return: the sum of the agents' returns;
    equality: 1 - the Gini coefficient of the apples each agent collected (1 when none were);
    sustainability: the mean step (1-based) at which apples were collected (0 when none were);
    peace: the mean number of steps an agent was on the board, not frozen.

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
from numba import njit

from worlds.cells import APPLE, FLOOR, NUM_CELLS, PASSABLE, WALL
from worlds.env import scenario_module
from worlds.mapgen import open_arena, spawn_agents
from worlds.maps import MapError
from worlds.scenario import DELTAS, Layout, Scenario, Sprite
from worlds.seeding import Draws

ZAP = 5
NORTH = 1
PATCH_RADIUS2 = 4  # a patch and the regrowth neighbourhood: cells at squared distance <= 4
PATCH_CELLS = 13
READY, RECHARGING = 1, 2  # the beam channel's codes
METRICS = ("collective_return", "equality", "sustainability", "peace")
DIRECTIONS = ("north", "north", "south", "east", "west")  # by last move; north before any
# The regrowth neighbourhood: the 12 cells at squared distance 1..4.
NEAR = np.array(
    [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if 0 < dy * dy + dx * dx <= PATCH_RADIUS2],
    dtype=np.int64,
)


@dataclass(frozen=True)
class Harvest(Scenario):
    num_agents: int = 4
    max_cycles: int = 500
    size: int = 13
    patches: int = 4
    regrowth: tuple[float, ...] | str = (0.0, 0.005, 0.005, 0.02, 0.02, 0.05)
    beam_length: int = 3
    freeze_steps: int = 25
    zap_cooldown: int = 4
    zap_cost: float = 0.0

    name = "harvest_v0"
    limits = {"size": (7, 31), "patches": (1, 64), "beam_length": (1, 30), "freeze_steps": (1, 10_000)}
    team_names = ("harvesters",)
    interactions = ("zap",)
    num_cells = NUM_CELLS
    extra_channels = (3,)
    legend_cells = (WALL, FLOOR, APPLE)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "regrowth", _regrowth_table(self.regrowth))
        if self.map is None:
            if not 7 <= self.size <= 31:
                raise ValueError(f"harvest_v0: size must be 7..31, got {self.size}")
            room = (self.size - 2) ** 2 - self.num_agents
            if not 1 <= self.patches or self.patches * PATCH_CELLS > room:
                raise ValueError(
                    f"harvest_v0: patches must be 1..{max(room // PATCH_CELLS, 1)} for size {self.size} "
                    f"and {self.num_agents} agents (13 cells each, room to spawn), got {self.patches}"
                )
        if not 1 <= self.beam_length <= 30:
            raise ValueError(f"harvest_v0: beam_length must be 1..30, got {self.beam_length}")
        if not 1 <= self.freeze_steps <= 10_000:
            raise ValueError(f"harvest_v0: freeze_steps must be 1..10000, got {self.freeze_steps}")
        if not 0 <= self.zap_cooldown <= 10_000:
            raise ValueError(f"harvest_v0: zap_cooldown must be 0..10000, got {self.zap_cooldown}")
        if not (np.isfinite(self.zap_cost) and self.zap_cost >= 0):
            raise ValueError(f"harvest_v0: zap_cost must be a finite number >= 0, got {self.zap_cost}")

    @cached_property
    def thresholds(self) -> np.ndarray:
        """The regrowth table as uint64 thresholds for 53-bit draws: grow when draw < it."""
        return np.array([int(p * 2.0**53) for p in self.regrowth], dtype=np.uint64)

    # -- the map -------------------------------------------------------------------------------
    def layouts(self, draws: Draws) -> Layout:
        if self.grid_map is not None:
            return super().layouts(draws)  # a map: spawns drawn world by world
        K, n, size = len(draws), self.num_agents, self.size
        terrain = np.empty((K, size, size), dtype=np.uint8)
        pos = np.empty((K, n, 2), dtype=np.int64)
        orchard = np.empty((K, self.patches * PATCH_CELLS), dtype=np.int32)
        near = np.empty((K, size, size), dtype=np.uint8)
        apples = np.empty(K, dtype=np.int32)
        orchard_fields(draws.uniform(self.patches + n), open_arena(size, size), self.patches,
                       terrain, pos, orchard, near, apples)  # fmt: skip
        extra = self._extra(orchard, near, apples, draws.words(1, part=1)[:, 0])
        return Layout(terrain, pos, np.full((K, n, 2), -1), extra)

    def layout(self, rng: np.random.Generator) -> Layout:
        """A map's start, spawns drawn from `rng` (generated fields come from `layouts`, a batch
        at a time)."""
        if self.grid_map is None:
            return super().layout(rng)
        grid = self.grid_map
        terrain = grid.terrain.copy()
        if not (terrain == APPLE).any():
            raise MapError(grid.source, 1, 1, "harvest_v0 needs at least one apple 'a'")
        pos = spawn_agents(grid, self.num_agents, rng, avoid=np.argwhere(terrain == APPLE))
        apple = terrain == APPLE
        orchard = np.flatnonzero(apple).astype(np.int32)  # the cells apples may regrow on (flat)
        seed = np.array([rng.integers(0, 2**64, dtype=np.uint64)])
        extra = self._extra(orchard[None], count_near(apple)[None], np.array([apple.sum()], np.int32), seed)
        return Layout(terrain, pos, np.full((self.num_agents, 2), -1), {k: v[0] for k, v in extra.items()})

    def _extra(self, orchard, near, apples, seed) -> dict[str, np.ndarray]:
        """The episodes' own arrays, [K, ...]: the orchard's cells (flat, -1 after the last), the
        apples within radius 2 of each cell and on the map (both kept current), the regrowth
        draws' key, and the zeroed clocks and tallies."""
        K, n = len(apples), self.num_agents
        return {
            "orchard": orchard,
            "near": near,
            "apples": apples,
            "seed": seed,
            "frozen": np.zeros((K, n), np.int32),  # steps each agent stays off the board
            "cooldown": np.zeros((K, n), np.int32),  # steps until each agent may zap again
            "returns": np.zeros((K, n), np.float64),  # this episode's, for the social metrics
            "collected": np.zeros((K, n), np.int32),  # apples each agent collected
            "time_sum": np.zeros(K),  # sum of the steps at which apples were collected
            "frozen_steps": np.zeros((K, n), np.int32),  # steps each agent spent frozen
        }

    # -- the rules -----------------------------------------------------------------------------
    def present(self, state) -> np.ndarray:
        return state.alive & (state.extra["frozen"] == 0)

    def interaction_mask(self, state) -> np.ndarray:
        return (self.present(state) & (state.extra["cooldown"] == 0))[..., None]

    def interact(self, state, actions):
        B, N = state.alive.shape
        fired, hit = np.empty((B, N), dtype=bool), np.empty((B, N), dtype=bool)
        x = state.extra
        zap_beams(
            state.terrain, state.pos, state.alive, np.asarray(actions, dtype=np.int64), state.last_move,
            x["frozen"], x["cooldown"], state.pad, self.beam_length, self.freeze_steps, self.zap_cooldown,
            fired, hit,
        )  # fmt: skip
        return {"fired": fired, "zapped": hit}

    def judge(self, state, actions, events):
        B, N = state.alive.shape
        rewards, terminated = np.empty((B, N), dtype=np.float64), np.empty((B, N), dtype=bool)
        collected, apples = np.empty((B, N), dtype=bool), np.empty(B, dtype=np.int64)
        x = state.extra
        harvest_judge(
            state.terrain, state.pos, state.alive, state.t, state.pad, x["orchard"], x["near"], x["apples"],
            x["seed"], self.thresholds, x["frozen"], x["cooldown"], events["fired"], float(self.zap_cost),
            x["returns"], x["collected"], x["time_sum"], x["frozen_steps"],
            rewards, terminated, collected, apples,
        )  # fmt: skip
        metrics = np.empty((B, len(METRICS)), dtype=np.float64)
        social(x["returns"], x["collected"], x["time_sum"], x["frozen_steps"], state.t + 1, metrics)
        events["collected"], events["apples"] = collected, apples
        events.update({name: metrics[:, k] for k, name in enumerate(METRICS)})
        return rewards, terminated

    def success(self, terminated: np.ndarray) -> np.ndarray:
        return ~terminated.any(-1)

    # -- what agents perceive ------------------------------------------------------------------
    def fill_views(self, state, present, views) -> None:
        beam_views(state.terrain, state.pos, present, state.last_move, state.extra["cooldown"],
                   state.pad, self.beam_length, views)  # fmt: skip

    def status_words(self, state, world: int, agent: int) -> list[str]:
        x = state.extra
        frozen, cooldown = int(x["frozen"][world, agent]), int(x["cooldown"][world, agent])
        got = f"You have collected {int(x['collected'][world, agent])} apples."
        if frozen:
            return [
                f"You are frozen (zapped): off the board for {frozen} more steps; you can only wait.",
                got,
            ]
        facing = DIRECTIONS[int(state.last_move[world, agent])]
        ready = "ready" if cooldown == 0 else f"recharging for {cooldown} more steps"
        return [f"Your zap beam points {facing}, {self.beam_length} cells; {ready}.", got]

    def sprites(self, state, world: int) -> list[Sprite]:
        frozen = state.alive[world] & (state.extra["frozen"][world] > 0)
        return [Sprite(int(r), int(c), "frozen") for r, c in state.pos[world, frozen]]

    def goal_words(self, agent: int) -> str:
        return (
            "collect apples a by stepping on them; an apple regrows only near other apples, so a "
            "patch picked bare is gone for good; zap freezes the first agent in the direction of "
            "your last move"
        )


def _regrowth_table(value) -> tuple[float, ...]:
    """The `regrowth` option as a tuple of probabilities (a "0,0.005,..." string is accepted,
    for the command line), checked: 1..13 entries in [0, 1], the first 0 (no apple regrows
    where none are near)."""
    if isinstance(value, str):
        try:
            value = [float(p) for p in value.split(",")]
        except ValueError:
            raise ValueError(f"harvest_v0: regrowth must be comma-separated numbers, got {value!r}") from None
    try:
        table = tuple(float(p) for p in value)
    except (TypeError, ValueError):
        raise ValueError(f"harvest_v0: regrowth must be a sequence of probabilities, got {value!r}") from None
    if not 1 <= len(table) <= PATCH_CELLS or not all(0.0 <= p <= 1.0 for p in table) or table[0] != 0.0:
        raise ValueError(
            "harvest_v0: regrowth must hold 1..13 probabilities in [0, 1] (by the count of apples "
            f"within radius 2), the first 0 (nothing regrows where no apple is near), got {value!r}"
        )
    return table


@njit(cache=True)
def orchard_fields(u, room, patches, terrain, pos, orchard, near, apples):
    """Walled fields for every world k of a batch, from its draws `u[k]` (patches + N): round
    patches of apples (radius 2, clipped by the walls) centred on distinct random inner cells of
    the `room` uint8[H, W], then the agents on distinct random floor cells without an apple.
    Also each world's orchard (its apple cells, flat, ascending, -1 after the last), the count
    of apples within radius 2 of each cell (`near`) and on the map (`apples`)."""
    H, W = room.shape
    N = pos.shape[1]
    inner = np.empty(H * W, np.int64)
    for b in range(u.shape[0]):
        terrain[b] = room
        count = _cells_of(terrain[b], FLOOR, inner)
        _first_swaps(inner, count, patches, u[b], 0)
        for p in range(patches):
            r, c = inner[p] // W, inner[p] % W
            for y in range(max(r - 2, 0), min(r + 3, H)):
                for x in range(max(c - 2, 0), min(c + 3, W)):
                    if (y - r) ** 2 + (x - c) ** 2 <= PATCH_RADIUS2 and terrain[b, y, x] == FLOOR:
                        terrain[b, y, x] = APPLE
        count = _cells_of(terrain[b], FLOOR, inner)
        _first_swaps(inner, count, N, u[b], patches)
        for i in range(N):
            pos[b, i, 0], pos[b, i, 1] = inner[i] // W, inner[i] % W
        apples[b] = _cells_of(terrain[b], APPLE, inner)
        orchard[b] = -1
        near[b] = 0
        for k in range(apples[b]):
            orchard[b, k] = inner[k]
            spread(near[b], inner[k] // W, inner[k] % W, 1)


@njit(cache=True)
def _cells_of(grid, code, out):
    """The cells of `grid` holding `code`, flat and ascending, into `out`; returns their count."""
    H, W = grid.shape
    count = 0
    for y in range(H):
        for x in range(W):
            if grid[y, x] == code:
                out[count] = y * W + x
                count += 1
    return count


@njit(cache=True)
def _first_swaps(pool, size, count, draws, first):
    """The first `count` swaps of a Fisher-Yates shuffle of `pool[:size]`, from `draws[first:]`:
    `pool[:count]` becomes `count` distinct cells drawn uniformly, in random order."""
    for k in range(count):
        j = k + int(draws[first + k] * (size - k))
        pool[k], pool[j] = pool[j], pool[k]


def count_near(apple: np.ndarray) -> np.ndarray:
    """The count of `apple` cells (bool[H, W]) within radius 2 of each cell, uint8[H, W]."""
    H, W = apple.shape
    padded = np.zeros((H + 4, W + 4), np.uint8)
    padded[2:-2, 2:-2] = apple
    return sum(padded[2 + dy : 2 + dy + H, 2 + dx : 2 + dx + W] for dy, dx in NEAR.tolist()).astype(np.uint8)


def social_metrics(state) -> dict[str, np.ndarray]:
    """The social outcome metrics of each world's episode so far (module docstring), float64[B]
    each: call it on `infos["final_state"]` for the episodes that just ended."""
    x = state.extra
    out = np.empty((state.num_worlds, len(METRICS)), dtype=np.float64)
    social(x["returns"], x["collected"], x["time_sum"], x["frozen_steps"], state.t, out)
    return {name: out[:, k] for k, name in enumerate(METRICS)}


# -- kernels -------------------------------------------------------------------------------------
GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # splitmix64's constants
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True)
def splitmix64(x):
    """A well-mixed 64-bit hash of `x` (uint64): counter-based random numbers."""
    z = x + GOLDEN
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def zap_beams(
    terrain, pos, alive, actions, last_move, frozen, cooldown, pad, beam_length, freeze_steps, zap_cooldown,
    fired, hit,
):  # fmt: skip
    """harvest_v0, before moves: every agent on the board whose zap is ready and who zaps fires
    along its last move (north before any) up to `beam_length` cells, stopped by impassable
    cells; the first agent on the board in the beam is frozen for `freeze_steps`. All beams
    see the board as it was (two agents may zap each other); zappers start their cooldown."""
    B, N = alive.shape
    for b in range(B):
        for i in range(N):
            fired[b, i] = alive[b, i] and frozen[b, i] == 0 and cooldown[b, i] == 0 and actions[b, i] == ZAP
            hit[b, i] = False
        for i in range(N):
            if not fired[b, i]:
                continue
            move = last_move[b, i] if last_move[b, i] > 0 else NORTH
            dr, dc = DELTAS[move, 0], DELTAS[move, 1]
            r, c = pos[b, i, 0], pos[b, i, 1]
            for _ in range(beam_length):
                r, c = r + dr, c + dc
                if not PASSABLE[terrain[b, r + pad, c + pad]]:
                    break
                target = -1
                for j in range(N):
                    if alive[b, j] and frozen[b, j] == 0 and pos[b, j, 0] == r and pos[b, j, 1] == c:
                        target = j
                if target >= 0:
                    hit[b, target] = True
                    break
        for i in range(N):
            if hit[b, i]:
                frozen[b, i] = freeze_steps
            if fired[b, i]:
                cooldown[b, i] = zap_cooldown


@njit(cache=True)
def harvest_judge(
    terrain, pos, alive, t, pad, orchard, near, apples, seed, thresholds, frozen, cooldown, fired, zap_cost,
    returns, collected, time_sum, frozen_steps, rewards, terminated, got, left,
):  # fmt: skip
    """harvest_v0, after moves: agents on the board collect the apples they stand on (+1; a zap
    fired costs `zap_cost`); frozen agents count a frozen step and come back when their time
    is up and their cell is free; cooldowns run down; empty orchard cells with no agent on
    them regrow by the `thresholds` of their count of apples within radius 2 (`near`, counted
    before any regrows, so cell order does not matter); with no apple left everyone
    terminates. `near` and `apples` are kept current as apples go and come."""
    B, N = alive.shape
    W = near.shape[2]
    L = thresholds.shape[0]
    grow = np.empty(orchard.shape[1], np.int64)
    for b in range(B):
        step = t[b] + 1
        for i in range(N):
            rewards[b, i] = -zap_cost * fired[b, i]
            got[b, i] = False
            y, x = pos[b, i, 0], pos[b, i, 1]
            if alive[b, i] and frozen[b, i] == 0 and terrain[b, y + pad, x + pad] == APPLE:
                terrain[b, y + pad, x + pad] = FLOOR
                spread(near[b], y, x, -1)
                apples[b] -= 1
                got[b, i] = True
                rewards[b, i] += 1.0
                collected[b, i] += 1
                time_sum[b] += step
            returns[b, i] += rewards[b, i]
        for i in range(N):
            if not alive[b, i]:
                continue
            if cooldown[b, i] > 0 and not fired[b, i]:
                cooldown[b, i] -= 1
            if frozen[b, i] == 0:
                continue
            frozen_steps[b, i] += 1
            frozen[b, i] -= 1
            if frozen[b, i] == 0:
                for j in range(N):  # someone on the board holds my cell: wait off it
                    if j != i and alive[b, j] and frozen[b, j] == 0 and pos[b, j, 0] == pos[b, i, 0]:
                        if pos[b, j, 1] == pos[b, i, 1]:
                            frozen[b, i] = 1
        k = 0  # cells to regrow, in `grow`
        base = seed[b] + np.uint64(step) * np.uint64(near.shape[1] * W)
        for n in range(orchard.shape[1]):
            cell = orchard[b, n]
            if cell < 0:
                break
            y, x = cell // W, cell % W
            if terrain[b, y + pad, x + pad] != FLOOR:
                continue
            threshold = thresholds[min(near[b, y, x], L - 1)]
            if threshold > 0 and (splitmix64(base + np.uint64(cell)) >> np.uint64(11)) < threshold:
                grow[k] = cell
                k += 1
        for n in range(k):
            y, x = grow[n] // W, grow[n] % W
            free = True
            for j in range(N):
                if alive[b, j] and frozen[b, j] == 0 and pos[b, j, 0] == y and pos[b, j, 1] == x:
                    free = False
            if free:
                terrain[b, y + pad, x + pad] = APPLE
                spread(near[b], y, x, 1)
                apples[b] += 1
        left[b] = apples[b]
        for i in range(N):
            terminated[b, i] = apples[b] == 0


@njit(cache=True)
def spread(near, y, x, delta):
    """An apple came (`delta` 1) or went (-1) at (y, x): its neighbours' counts change."""
    H, W = near.shape
    for k in range(NEAR.shape[0]):
        yy, xx = y + NEAR[k, 0], x + NEAR[k, 1]
        if 0 <= yy < H and 0 <= xx < W:
            near[yy, xx] += delta


@njit(cache=True)
def social(returns, collected, time_sum, frozen_steps, steps, out):
    """Per world, `out[b]` = collective return, equality (1 - Gini of apples collected),
    sustainability (mean step of collection), peace (mean steps on the board per agent)."""
    B, N = returns.shape
    for b in range(B):
        total = 0.0
        apples = 0
        frozen = 0
        for i in range(N):
            total += returns[b, i]
            apples += collected[b, i]
            frozen += frozen_steps[b, i]
        gap = 0
        for i in range(N):
            for j in range(N):
                gap += abs(collected[b, i] - collected[b, j])
        out[b, 0] = total
        out[b, 1] = 1.0 - gap / (2.0 * N * apples) if apples > 0 else 1.0
        out[b, 2] = time_sum[b] / apples if apples > 0 else 0.0
        out[b, 3] = steps[b] - frozen / N


@njit(cache=True)
def beam_views(terrain, pos, present, last_move, cooldown, pad, beam_length, views):
    """The beam channel (index 3) of `views` uint8[B, N, V, V, 4]: for an agent on the board,
    READY (or RECHARGING) on the cells its zap would sweep, within the view; 0 elsewhere."""
    B, N, V = views.shape[0], views.shape[1], views.shape[2]
    r0 = V // 2
    for b in range(B):
        for i in range(N):
            view = views[b, i]
            for y in range(V):
                for x in range(V):
                    view[y, x, 3] = 0
            if not present[b, i]:
                continue
            code = READY if cooldown[b, i] == 0 else RECHARGING
            move = last_move[b, i] if last_move[b, i] > 0 else NORTH
            dr, dc = DELTAS[move, 0], DELTAS[move, 1]
            r, c = pos[b, i, 0], pos[b, i, 1]
            for k in range(1, min(beam_length, r0) + 1):
                r, c = r + dr, c + dc
                if not PASSABLE[terrain[b, r + pad, c + pad]]:
                    break
                view[r0 + k * dr, r0 + k * dc, 3] = code


def task_family(rng: np.random.Generator, split: str) -> tuple[dict, float]:
    """A harvest_v0 config for the task generator and its difficulty: more agents per apple
    patch and a smaller field are harder to keep sustainable. Knobs: size 9/11/13/15,
    patches 1..4, num_agents 2/3/4/6; "test" draws only the combinations with
    (size index + patches + agents index) % 3 == 0, "train" only the others."""
    if split not in ("train", "test"):
        raise ValueError(f"harvest_v0 task_family: split must be 'train' or 'test', got {split!r}")
    sizes, agents = (9, 11, 13, 15), (2, 3, 4, 6)
    combos = [
        (s, p, a)
        for s in range(len(sizes))
        for p in range(1, 5)
        for a in range(len(agents))
        if ((s + p + a) % 3 == 0) == (split == "test") and p * PATCH_CELLS <= (sizes[s] - 2) ** 2 - agents[a]
    ]
    s, p, a = combos[int(rng.integers(len(combos)))]
    config = {"size": sizes[s], "patches": p, "num_agents": agents[a]}
    return config, agents[a] / p + 4.0 / sizes[s]


env, parallel_env = scenario_module(Harvest)
