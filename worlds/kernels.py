"""Compiled loops behind the engine's hot path (numba), one call per rule over all worlds.

At one world a step is a few dozen tiny arrays, where each numpy call costs a microsecond or two
of overhead for nanoseconds of work; here each rule is one call whose loops over worlds and
agents run in machine code, so a PettingZoo env with B = 1 and batch mode with B = 1024 run the
same code. Each kernel states the rule it implements; `worlds.engine`, `worlds.observe` and the
scenarios call them, and tests/worlds check them against plain numpy statements of the rules.

Kernels write into output arrays the caller allocates (cheaper than returning new arrays from
compiled code) and compile once per argument types, cached on disk (`cache=True`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from worlds.cells import PASSABLE
from worlds.scenario import DELTAS

NUM_MOVES = len(DELTAS)  # actions 1..4 move; 0 (noop) and interactions (>= 5) stay put
TEAMMATE, RIVAL = 2, 3  # worlds.observe's relation codes; SELF (1) is TEAMMATE less one


@njit(cache=True)
def move_agents(terrain, pos, alive, actions, pad, moved):
    """The engine's moves (rules in `worlds.engine`'s docstring), in place on `pos`; `moved`
    bool[B, N] says who moved. Per world: a live agent's move is blocked by terrain, by a clash
    (another mover aims at the same cell), by a swap (the live agent on its target cell aims at
    its cell) and, to a fixed point, by following into the cell of a live agent that stays.

    Two scratch grids of one world's cells (who stands there, how many movers aim there) make
    each rule one pass over the agents; they are cleared again cell by cell after each world."""
    B, N = alive.shape
    W = terrain.shape[2]
    occupant = np.full(terrain.shape[1] * W, -1, np.int64)
    aimed = np.zeros(terrain.shape[1] * W, np.int64)
    here = np.empty(N, np.int64)
    there = np.empty(N, np.int64)
    ahead = np.empty(N, np.int64)
    for b in range(B):
        for i in range(N):  # flat cells of this world's padded grid
            a = actions[b, i]
            dr = dc = 0
            if 0 < a < NUM_MOVES:
                dr, dc = DELTAS[a, 0], DELTAS[a, 1]
            r, c = pos[b, i, 0] + pad, pos[b, i, 1] + pad
            here[i] = r * W + c
            there[i] = (r + dr) * W + c + dc
            moved[b, i] = alive[b, i] and here[i] != there[i] and PASSABLE[terrain[b, r + dr, c + dc]]
            if alive[b, i]:
                occupant[here[i]] = i  # in agent order: the last of two in one cell counts
            if moved[b, i]:
                aimed[there[i]] += 1
        for i in range(N):  # clashes and swaps, judged on the wishes before anyone is blocked
            ahead[i] = -1
            if moved[b, i]:
                j = occupant[there[i]]  # the live agent on my target cell, -1 for none
                swap = j >= 0 and there[j] == here[i]
                ahead[i] = -2 if swap or aimed[there[i]] > 1 else j
        for i in range(N):
            if ahead[i] == -2:
                moved[b, i] = False
        changed = True
        while changed:  # the cascade: blocking only ever spreads, so sweep order does not matter
            changed = False
            for i in range(N):
                if moved[b, i] and ahead[i] >= 0 and not moved[b, ahead[i]]:
                    moved[b, i] = False
                    changed = True
        for i in range(N):
            occupant[here[i]] = -1
            aimed[there[i]] = 0
            if moved[b, i]:
                a = actions[b, i]
                pos[b, i, 0] += DELTAS[a, 0]
                pos[b, i, 1] += DELTAS[a, 1]


@njit(cache=True)
def action_mask(terrain, pos, alive, pad, interactions, mask):
    """Legal actions into int8 `mask` [B, N, A]: noop always; a move onto a passable cell; the
    scenario's `interactions` bool[B, N, A - 5]; agents out of the game only noop."""
    B, N, A = mask.shape
    for b in range(B):
        for i in range(N):
            live = alive[b, i]
            mask[b, i, 0] = 1
            r, c = pos[b, i, 0] + pad, pos[b, i, 1] + pad
            for m in range(1, NUM_MOVES):
                mask[b, i, m] = live and PASSABLE[terrain[b, r + DELTAS[m, 0], c + DELTAS[m, 1]]]
            for k in range(NUM_MOVES, A):
                mask[b, i, k] = live and interactions[b, i, k - NUM_MOVES]


@njit(cache=True)
def views(terrain, pos, alive, goal, teams, pad, out):
    """Egocentric views into `out` uint8[B, N, V, V, 3] (channels in `worlds.observe`): the cells
    round each agent; every live agent in view by its relation to the observer (SELF at the
    centre); the observer's goal, 1 on it when in view, else 2 on the edge towards it.

    Who stands where is read off a scratch grid of one world's cells (live agent + 1, 0 for
    none; cleared again after each world), through a table of how each team sees each agent,
    so the view loop has no data-dependent branches."""
    B, N, V = out.shape[0], out.shape[1], out.shape[2]
    r = V // 2
    if N > 254:
        raise ValueError("views: at most 254 agents per world")
    seen_as = np.zeros((teams.max() + 1, N + 1), np.uint8)  # [team, agent + 1]; column 0: nobody
    for team in range(seen_as.shape[0]):
        for j in range(N):
            seen_as[team, j + 1] = TEAMMATE if teams[j] == team else RIVAL
    occupant = np.zeros(terrain.shape[1:], np.uint8)  # bytes: the grid stays in the L1 cache
    marks = goal[..., 0].max() >= 0  # nobody has a goal of its own (tag): channel 2 stays 0
    for b in range(B):
        cells = terrain[b]
        for j in range(N):  # in agent order, so the last of two agents in one cell shows
            if alive[b, j]:
                occupant[pos[b, j, 0] + pad, pos[b, j, 1] + pad] = j + 1
        for i in range(N):
            view, relation = out[b, i], seen_as[teams[i]]
            top, left = pos[b, i, 0] + pad - r, pos[b, i, 1] + pad - r
            for y in range(V):
                for x in range(V):
                    view[y, x, 0] = cells[top + y, left + x]
                    view[y, x, 1] = relation[occupant[top + y, left + x]]
                    view[y, x, 2] = 0
            view[r, r, 1] -= alive[b, i]  # a live observer reads itself as TEAMMATE - 1 = SELF
            gy, gx = goal[b, i, 0], goal[b, i, 1]
            if marks and alive[b, i] and gy >= 0:
                dy, dx = gy - pos[b, i, 0], gx - pos[b, i, 1]
                ey, ex = min(max(dy, -r), r), min(max(dx, -r), r)
                view[ey + r, ex + r, 2] = 1 if (ey == dy and ex == dx) else 2
        for j in range(N):
            occupant[pos[b, j, 0] + pad, pos[b, j, 1] + pad] = 0


@njit(cache=True)
def actions_legal(actions, mask, alive):
    """Whether every action [B, N] is in range and, for live agents, unmasked: the common case,
    in which `engine.check_actions` has nothing to change or report."""
    B, N, A = mask.shape
    for b in range(B):
        for i in range(N):
            a = actions[b, i]
            if a < 0 or a >= A or (alive[b, i] and mask[b, i, a] == 0):
                return False
    return True


@njit(cache=True)
def finish_step(acting, rewards, terminated, t, max_cycles, alive, out_rewards, truncated):
    """The step's end: t += 1; only agents that acted terminate or score (float32 rewards); the
    others still in the game are truncated at `max_cycles`; whoever ended leaves the game."""
    B, N = acting.shape
    for b in range(B):
        t[b] += 1
        last = t[b] >= max_cycles
        for i in range(N):
            act = acting[b, i]
            terminated[b, i] = terminated[b, i] and act
            truncated[b, i] = last and act and not terminated[b, i]
            if terminated[b, i] or truncated[b, i]:
                alive[b, i] = False
            out_rewards[b, i] = np.float32(rewards[b, i]) if act else np.float32(0.0)


@njit(cache=True)
def time_bonus(t, max_cycles):
    """1 - 0.9 * (steps taken / max_cycles), MiniGrid's reward scale, computed as numpy does
    it elementwise (`1.0 - 0.9 * (t + 1) / max_cycles`) so both give the same float64."""
    return 1.0 - 0.9 * (t + 1) / max_cycles
