"""Walking many agents to their own targets at once, without deadlocks.

Every agent follows its target's distance field downhill. Before anyone moves, the planner
predicts the engine's conflicts among the agents of each world (all assumed to follow the same
rules) and settles them the way people in a corridor would:

* two agents about to swap cells: one gives way. It is the one with a free cell off the other's
  path right next to it; else the one that gave way last step (while it still can, so the two
  do not take turns backing off); else the one with the shorter way to a cell off the other's
  path, around other agents, then through them; else the one farther from its target (ties:
  the higher agent index). Giving way is a step off the other's path, or back along it; an
  agent boxed in by others asks one of them to give way in turn and follows it, so a queue
  backs off together;
* two agents heading for one cell, or one heading into the cell of an agent that stays: the one
  with lower priority (farther from its target, then higher index) takes another free downhill
  move or waits;
* an agent that wanted to move but has stood still for `UNSTICK_AFTER` steps (a jam the rules
  above do not untie, or another controller's agent that does not play by them) takes a random
  legal step with probability `UNSTICK_P`, so nobody freezes forever.

All of it is vectorized over worlds and agents ([Bw, N] and [Bw, N, N] arrays); the way off
the other's path is one breadth-first search per agent of a head-on pair.
"""

from __future__ import annotations

import numpy as np

from agents.planners.grid import UNREACHED, Board, distance_fields, look
from agents.planners.planner import GIVE_WAY, GO_GOAL, NO_PATH, ON_PLATE, OUT, UNSTICK, WAIT

UNSTICK_AFTER = 3
UNSTICK_P = 0.25
# The codes `steer` gives; a planner may rename GO/ARRIVED for its own targets.
GO, ARRIVED = GO_GOAL, ON_PLATE


def steer(board: Board, dist: np.ndarray, rng: np.random.Generator, stall: np.ndarray, gave_way: np.ndarray):
    """Moves towards each agent's target field dist int[Bw, N, C] for every agent on the board.

    `stall` and `gave_way` (int[Bw, N]) come from the planner's memory. Returns actions int[Bw, N],
    plan codes int[Bw, N], the agent each gave way to (-1) int[Bw, N], the target distance after
    each move int[Bw, N, 5], and whether each agent had a downhill move, bool[Bw, N]."""
    Bw, N = board.shape
    C = board.terrain.shape[1]
    rows = np.arange(Bw)[:, None]
    nxt = board.next_cells()
    legal = board.legal[..., :5] & board.alive[..., None]
    legal[..., 0] = True
    near = np.where(legal, look(dist, nxt), UNREACHED)
    d0 = near[..., 0]
    who = board.occupant()
    held = look(who[:, None, :], nxt) >= 0  # a live agent stands there now
    held[..., 0] = False
    free = legal & ~held
    downhill = legal & (near < d0[..., None])
    downhill[..., 0] = False
    wanted = downhill.any(-1)
    noise = rng.random((Bw, N, 5))
    # Lower key, higher priority: nearer the target first, then the lower agent index.
    key = np.minimum(d0, C) * N + np.arange(N)

    act = np.where(downhill, 4.0 + 2.0 * free + noise, -1.0)
    act[..., 0] = 0.0
    act = act.argmax(-1)
    plan = np.where(wanted, GO, np.where(d0 == 0, ARRIVED, NO_PATH))
    plan = np.where(board.alive, plan, OUT)

    # Head-on: my next cell holds an agent whose next cell is mine.
    to = look(nxt, act[..., None])[..., 0]
    ahead = np.where(act > 0, who[rows, to], -1)
    j = np.maximum(ahead, 0)
    head = (ahead >= 0) & (to[rows, j] == board.here) & (act[rows, j] > 0)
    gave = np.full((Bw, N), -1, dtype=np.int64)
    if head.any():
        # Who gives way, the first that tells: one with a free cell off the other's path next
        # to it; whoever gave way last step, while it still can; the one with a shorter free
        # way off the other's path; the same, pushing back other agents on the way; the one
        # with lower priority. Antisymmetric: one of a pair scores higher.
        M = C + 1
        clear = np.full((2, Bw, N), C, dtype=np.int64)
        clear[:, head] = clearance(board, dist, head, j)
        free_way, push_way = clear
        aside = free_way == 1
        can = push_way < C
        score = ((2 * aside + ((gave_way == ahead) & can)) * M + C - free_way) * M + C - push_way
        score = 2 * score + (key > key[rows, j])
        yields = head & (score > score[rows, j])
        act, gave = _give_way(yields, ahead, act, dist, nxt, near, free, legal, who, noise)
        plan = np.where(gave >= 0, GIVE_WAY, plan)

    # Contests and blocks, to a fixed point: a loser takes another free downhill move or waits.
    others = ~np.eye(N, dtype=bool)
    for _ in range(N + 1):
        to = look(nxt, act[..., None])[..., 0]
        moving = act > 0
        same = moving[:, :, None] & moving[:, None, :] & (to[:, :, None] == to[:, None, :])
        lose = (same & (key[:, None, :] < key[:, :, None])).any(-1)
        ahead = np.where(moving, who[rows, to], -1)
        j = np.maximum(ahead, 0)
        stays = (ahead >= 0) & ((act[rows, j] == 0) | (to[rows, j] == board.here))
        blocked = moving & (lose | stays)
        if not blocked.any():
            break
        aims = np.where(moving, to, -1)
        aimed = ((nxt[..., None] == aims[:, None, None, :]) & others[None, :, None, :]).any(-1)
        alt = np.where(downhill & free & ~aimed, 1.0 + noise, 0.0).argmax(-1)
        act = np.where(blocked, alt, act)
        plan = np.where(blocked & (alt == 0) & (plan != GIVE_WAY), WAIT, plan)

    act, stuck = unstick(act, legal, stall, rng)
    plan = np.where(stuck, UNSTICK, plan)
    return act, plan, gave, near, wanted


def clearance(board: Board, dist: np.ndarray, head: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Steps from each agent in a head-on pair (bool[Bw, N], partners `other` int[Bw, N]) to the
    nearest cell off its partner's shortest path, never through the partner: int[2, K] for the
    K agents in `np.nonzero(head)` order, around the other agents, then through them (they can
    be asked to back off in turn). C (the grid's cell count) when there is no such cell."""
    b, i = np.nonzero(head)
    j = other[b, i]
    K, C = len(b), board.terrain.shape[1]
    ways = np.empty((2, K), dtype=np.int64)
    grids = board.passable[b].copy()
    grids[np.arange(K), board.here[b, j]] = False
    crowd = grids.copy()
    live = board.alive[b]  # [K, N]
    k, n = np.nonzero(live & (np.arange(live.shape[1]) != i[:, None]))
    crowd[k, board.here[b[k], n]] = False
    sources = np.zeros((2 * K, C), dtype=bool)
    sources[np.arange(2 * K), np.tile(board.here[b, i], 2)] = True
    mine = distance_fields(np.concatenate([crowd, grids]), sources, board.width).reshape(2, K, C)
    theirs = dist[b, j].astype(np.int64)  # [K, C]
    # Off the partner's path: its way there through me is longer than its distance (trees:
    # exact; with loops a fair guess, since its way to those cells is through me).
    far = theirs + mine + 1 > theirs[np.arange(K), board.here[b, j]][:, None]
    ways[:] = np.where(far & (mine < UNREACHED), mine, C).min(-1)
    return ways


def _give_way(yields, winner, act, dist, nxt, near, free, legal, who, noise):
    """Moves for the agents that give way (bool[Bw, N]) to `winner` int[Bw, N]: a free step off
    the winner's path (a cell farther along its field) or else away from it, nearer the own
    target on ties. An agent boxed in by others asks one of them (not the winner) to give way
    in turn, and follows into its cell: a queue backs off together. Returns the actions and who
    gave way to whom (-1 for nobody), int[Bw, N]."""
    Bw, N = yields.shape
    C = dist.shape[-1]
    rows = np.arange(Bw)[:, None]
    occupant = look(who[:, None, :], nxt)
    gave = np.full((Bw, N), -1, dtype=np.int64)
    winner = np.where(yields, winner, -1)
    cause = winner.copy()
    todo, giving = yields.copy(), yields.copy()
    for _ in range(N):
        if not todo.any():
            break
        theirs = look(dist[rows, np.maximum(winner, 0)], nxt)
        by = np.maximum(occupant, 0)
        pushable = legal & (occupant >= 0) & (occupant != winner[..., None]) & ~giving[rows[..., None], by]
        # Farthest along the winner's field first (off its path beats backing along it), then a
        # free cell over one to push its occupant out of, then nearer the own target.
        side = np.minimum(theirs, C) * (4 * C + 4) + free * (2 * C + 2) - np.minimum(near, C) + noise
        side = np.where(free | pushable, side, -np.inf)
        side[..., 0] = -np.inf
        has = np.isfinite(side.max(-1))
        step = np.where(has, side.argmax(-1), 0)
        pushes = todo & has & ~look(free, step[..., None])[..., 0]
        act = np.where(todo, step, act)
        gave = np.where(todo, cause, gave)
        b, i = np.nonzero(pushes)
        k = occupant[b, i, step[b, i]]
        todo = np.zeros_like(todo)
        todo[b, k] = True
        todo &= ~giving
        winner[b, k], cause[b, k] = winner[b, i], i
        giving |= todo
    return act, gave


def unstick(act: np.ndarray, legal: np.ndarray, stall: np.ndarray, rng: np.random.Generator):
    """A random legal step (noop only when nothing else is legal) instead of `act` int[Bw, N],
    with probability UNSTICK_P, for agents stuck `UNSTICK_AFTER` steps or more; legal bool[Bw, N,
    5] (moves). Returns the actions and who took a random step, bool[Bw, N]."""
    stuck = (stall >= UNSTICK_AFTER) & (rng.random(stall.shape) < UNSTICK_P)
    if stuck.any():
        pick = np.where(legal, rng.random(legal.shape), -1.0)
        pick[..., 0] = np.where(legal[..., 0], -0.5, -1.0)  # a real step when there is one
        act = np.where(stuck, pick.argmax(-1), act)
    return act, stuck
