"""The forage_v0 planner: groups of agents whose levels reach a food item's level walk to it and
collect it together.

Each step the agents are split into groups, greedily over all worlds at once: of every (food
item, set of free agents) pair whose levels sum to at least the item's level, the one that
gathers soonest (the farthest member's walk to a cell next to the item; fewer members break
ties) gets its agents, then the next among the agents and items left, until no pair is
possible. Agents left over help at the nearest item. Everyone walks (with `navigate.steer`'s
corridor etiquette) to a cell next to its item; once the group members next to it have the
levels, they all `collect` on the same step.

`thinking()` extras `q`: minus the remaining path length to a cell next to the row's item after
each move, 0 for a `collect` that lands.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from agents.base import Observations
from agents.planners.grid import UNREACHED, Board, look
from agents.planners.navigate import steer
from agents.planners.planner import GIVE_WAY, GO_GOAL, NO_PATH, ON_PLATE, OUT, UNSTICK, WAIT, Planner
from agents.planners.plates import cells_of
from worlds.cells import FOOD

FORAGE_WORDS = (
    "go to the food",
    "wait at the food for the group",
    "collect the food",
    "wait for a free cell",
    "give way to {whom}",
    "random step to get unstuck",
    "no way to the food",
    "go and help at the food",
    "out of the game",
)
GO, WAIT_GROUP, COLLECTING, WAIT_CELL, GIVE, STUCK, NO_WAY, HELP, GONE = range(len(FORAGE_WORDS))
# The shared plan codes `steer` gives, in this planner's words.
_FROM_STEER = {GO_GOAL: GO, ON_PLATE: WAIT_GROUP, WAIT: WAIT_CELL, GIVE_WAY: GIVE, UNSTICK: STUCK}
_FROM_STEER |= {NO_PATH: NO_WAY, OUT: GONE}


class ForagePlanner(Planner):
    name = "planner"
    plan_words = FORAGE_WORDS

    def decide(self, board: Board, obs: Observations):
        Bw, N = board.shape
        rows = np.arange(Bw)[:, None]
        state = obs.state
        food, valid = cells_of(board.terrain == FOOD)
        at = board.position(food)
        food_level = np.where(
            valid, state.extra["food_level"][board.worlds[:, None], at[..., 0], at[..., 1]], 0
        )
        level = np.where(board.alive, state.extra["agent_level"][board.worlds], 0).astype(np.int64)
        fields = board.fields(food, valid)  # [Bw, F, C]: steps from each item
        walk = look(fields, board.here[:, None, :]) - 1  # [Bw, F, N]: to a cell next to it
        walk = np.where(valid[..., None] & board.alive[:, None, :], walk, UNREACHED)
        target, helping = form_groups(walk, level, food_level, valid)
        has = target >= 0
        item = np.maximum(target, 0)
        next_to = has & (walk[rows, item, np.arange(N)] == 0)
        dist = fields[rows, item]  # [Bw, N, C]
        if next_to.any():  # agents waiting by their item will not budge: the others walk round them
            sitting = np.zeros_like(board.passable)
            b, i = np.nonzero(next_to)
            sitting[b, board.here[b, i]] = True
            detour = board.fields(food, valid, board.passable & ~sitting)[rows, item]
            around = ~next_to & (look(detour, board.here[..., None])[..., 0] < UNREACHED)
            dist = np.where(around[..., None], detour, dist)
        dist = np.where(dist >= UNREACHED, UNREACHED, np.maximum(dist - 1, 0))
        dist = np.where(has[..., None], dist, UNREACHED)
        stall, gave_way = self.memory.recall(board, state.t, state.num_worlds)
        actions, plan, gave, near, wanted = steer(board, dist, self.rng, stall, gave_way)
        self.memory.remember(board, wanted, stall, gave)
        plan = _STEER_TABLE[plan]

        # Collect when the group members next to the item have the levels between them.
        ready = np.zeros(food.shape, dtype=np.int64)
        np.add.at(ready, (np.repeat(np.arange(Bw), N), item.ravel()), (level * next_to).ravel())
        go = next_to & (ready[rows, item] >= food_level[rows, item])
        collect = len(self.scenario.actions) - 1
        go &= board.legal[..., collect]
        actions = np.where(go, collect, actions)
        plan = np.where(go, COLLECTING, np.where(helping & (plan == GO), HELP, plan))
        plan = np.where(board.alive, plan, GONE)
        q = np.full((Bw, N, collect + 1), np.nan, dtype=np.float32)
        q[..., :5] = np.where(near < UNREACHED, -(1.0 + near), np.nan)
        q[..., collect] = np.where(go, 0.0, np.nan)
        q = np.where(board.legal, q, np.nan).astype(np.float32)
        return actions, q, plan, np.where(plan == GIVE, gave, -1)


_STEER_TABLE = np.array([_FROM_STEER.get(code, GO) for code in range(max(_FROM_STEER) + 1)], dtype=np.int64)


def form_groups(walk: np.ndarray, level: np.ndarray, food_level: np.ndarray, valid: np.ndarray):
    """Each agent's item, int[Bw, N] (-1: none), and whether it only helps, bool[Bw, N].

    walk int[Bw, F, N]: steps from each agent to a cell next to each item (UNREACHED where it
    cannot, or the agent or item is gone); level int[Bw, N] (0 for agents out of the game);
    food_level int[Bw, F]; valid bool[Bw, F]. Greedy over (item, agent set) pairs, soonest
    gathered first, in every world at once."""
    Bw, F, N = walk.shape
    target = np.full((Bw, N), -1, dtype=np.int64)
    if F == 0:
        return target, np.zeros((Bw, N), dtype=bool)
    members = _subsets(N)  # [S, N]
    size = members.sum(1)
    # The slowest member's walk per (world, item, set); sets with an unreachable member are out.
    slowest = np.where(members[None, None], walk[:, :, None, :], -1).max(-1)  # [Bw, F, S]
    can = (slowest < UNREACHED) & valid[..., None]
    strength = level @ members.T  # [Bw, S]
    can &= strength[:, None, :] >= food_level[..., None]
    cost = np.where(can, slowest * (N + 1) + size, np.iinfo(np.int64).max)
    free_agents = level > 0
    free_food = valid.copy()
    b = np.arange(Bw)
    for _ in range(N):
        open_ = (members[None] & ~free_agents[:, None, :]).any(-1)  # [Bw, S]: uses a taken agent
        c = np.where(open_[:, None, :] | ~free_food[..., None], np.iinfo(np.int64).max, cost)
        best = c.reshape(Bw, -1).argmin(1)
        found = c.reshape(Bw, -1)[b, best] < np.iinfo(np.int64).max
        if not found.any():
            break
        item, group = np.divmod(best, members.shape[0])
        chosen = found[:, None] & members[group]  # [Bw, N]
        target = np.where(chosen, item[:, None], target)
        free_agents &= ~chosen
        free_food[b[found], item[found]] = False
    # The rest help at the nearest item they can reach.
    helping = free_agents & (walk.min(1) < UNREACHED)
    target = np.where(helping, walk.argmin(1), target)
    return target, helping


@lru_cache(maxsize=8)
def _subsets(n: int) -> np.ndarray:
    """Every non-empty set of n agents as rows of bool[2**n - 1, n]."""
    codes = np.arange(1, 2**n)
    out = (codes[:, None] >> np.arange(n)) & 1
    out = out.astype(bool)
    out.flags.writeable = False
    return out
