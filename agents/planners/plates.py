"""The plates_v0 planner: while the gate is closed, the agents split the plates between them (one
each, the assignment of least total walking distance), walk to them and wait there; agents left
without a plate wait by the gate. Once the gate is open, everyone walks to the goal.

`thinking()` extras `q`: minus the remaining path length to the row's current target (its
plate, the gate, or the goal) after each action."""

from __future__ import annotations

from functools import lru_cache
from itertools import permutations

import numpy as np

from agents.base import Observations
from agents.planners.grid import UNREACHED, Board, FieldCache, look
from agents.planners.navigate import ARRIVED, GO, steer
from agents.planners.planner import AT_GATE, GO_GOAL, GO_PLATE, NO_PATH, Planner, path_values
from worlds.cells import GATE, PLATE
from worlds.scenario import Scenario

MAX_PERMUTATIONS = 5040  # exact assignment up to this many candidates, greedy beyond


class PlatesPlanner(Planner):
    name = "planner"

    def __init__(self, scenario: Scenario, seed: int | None = None):
        super().__init__(scenario, seed)
        # Plates, goals and the agents waiting on plates seldom change: search only on change.
        self.caches = [FieldCache() for _ in range(3)]

    def decide(self, board: Board, obs: Observations):
        Bw, N = board.shape
        rows = np.arange(Bw)[:, None]
        plates, valid = cells_of(board.terrain == PLATE)
        gate = board.terrain == GATE
        closed = gate.any(1)
        to_plate = board.fields(plates, valid & closed[:, None], cache=self.caches[0])
        cost = np.where(board.alive[:, None, :], look(to_plate, board.here[:, None, :]), UNREACHED)
        assign = assign_plates(cost, valid)  # [Bw, N] plate slot, -1 for none
        on_plate = closed[:, None] & (assign >= 0)
        # Each agent's target: its plate, else the goal, through closed gates (so plate-less
        # agents queue at the gate).
        goal = board.cells(obs.state.goal[board.worlds][:, :1])
        target = np.where(on_plate, plates[rows, np.maximum(assign, 0)], goal)
        walk = np.where(on_plate[..., None], board.passable[:, None], (board.passable | gate)[:, None])
        dist = board.fields(target, board.alive, walk, self.caches[1])
        # Agents waiting on their plates will not budge: the others walk round them if they can.
        settled = on_plate & board.alive & (look(dist, board.here[..., None])[..., 0] == 0)
        if settled.any():
            sitting = np.zeros_like(board.passable)
            b, i = np.nonzero(settled)
            sitting[b, board.here[b, i]] = True
            detour = board.fields(target, board.alive & ~settled, walk & ~sitting[:, None], self.caches[2])
            around = ~settled & (look(detour, board.here[..., None])[..., 0] < UNREACHED)
            dist = np.where(around[..., None], detour, dist)
        stall, gave_way = self.memory.recall(board, obs.state.t, obs.state.num_worlds)
        actions, plan, gave, near, wanted = steer(board, dist, self.rng, stall, gave_way)
        self.memory.remember(board, wanted, stall, gave)
        plan = np.where(on_plate & (plan == GO), GO_PLATE, plan)
        plan = np.where(~on_plate & (plan == ARRIVED), GO_GOAL, plan)
        plan = np.where(closed[:, None] & ~on_plate & (plan == NO_PATH), AT_GATE, plan)
        return actions, path_values(near, board.legal[..., :5]), plan, gave


def cells_of(where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The true cells of each row of bool[Bw, C] in reading order, padded to the longest row:
    cells int[Bw, P] and valid bool[Bw, P]."""
    count = where.sum(1)
    b, cell = np.nonzero(where)
    k = np.arange(len(b)) - np.repeat(np.cumsum(count) - count, count)
    P = int(count.max(initial=0))
    cells = np.zeros((len(where), P), dtype=np.int64)
    valid = np.zeros((len(where), P), dtype=bool)
    cells[b, k], valid[b, k] = cell, True
    return cells, valid


def assign_plates(cost: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """One agent per plate, least total distance: cost int[Bw, P, N] (plate to agent), valid
    bool[Bw, P]. Returns each agent's plate slot, -1 for none, int[Bw, N]."""
    Bw, P, N = cost.shape
    cost = np.where(valid[..., None], cost, 0).astype(np.int64)  # a missing plate costs nothing
    assign = np.full((Bw, N), -1, dtype=np.int64)
    if P == 0:
        return assign
    rows = np.arange(Bw)[:, None]
    order = _orders(N, min(P, N))
    if order is not None:
        best = order[cost[:, np.arange(order.shape[1]), order].sum(-1).argmin(1)]  # [Bw, P']
        assign[rows, best] = np.arange(order.shape[1])
    else:  # greedy: the nearest remaining (plate, agent) pair first
        cost = cost.copy()
        for _ in range(min(P, N)):
            flat = cost.reshape(Bw, -1).argmin(1)
            plate, agent = np.divmod(flat, N)
            assign[np.arange(Bw), agent] = plate
            cost[np.arange(Bw), plate, :] = np.iinfo(np.int64).max // 4
            cost[np.arange(Bw), :, agent] = np.iinfo(np.int64).max // 4
    assign = np.where(np.take_along_axis(valid, np.maximum(assign, 0), 1), assign, -1)
    return assign


@lru_cache(maxsize=32)
def _orders(agents: int, plates: int) -> np.ndarray | None:
    """Every way to put `plates` distinct agents on the plates, int[M, plates], or None when
    there are more than MAX_PERMUTATIONS."""
    count = 1
    for k in range(plates):
        count *= agents - k
    if count > MAX_PERMUTATIONS:
        return None
    return np.array(list(permutations(range(agents), plates)), dtype=np.int64).reshape(-1, plates)
