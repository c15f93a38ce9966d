"""The keys_v0 planner: every step, from the state alone, each agent picks one target and walks
to it by breadth-first distance fields (agents.planners.navigate, which also settles who gives
way in a corridor):

* the goal, once the agent can reach it;
* with a key the opener needs (the colour of a locked door at the edge of the opener's reachable
  region): that door, and `toggle` beside it; in the handover variant agent 0 (who may not
  toggle) takes such a key to the hatch, the gap in the split wall, and drops it there;
* with a key nobody needs now: `drop` it on the nearest plain floor (never on the hatch);
* with empty hands: the nearest key of a needed colour the agent may pick up (with handover,
  agent 0 the keys west of the split wall, agent 1 the others), and `pickup` on it; with none,
  the handover agents wait beside the hatch on their own side.

The opener is the agent itself, or agent 1 with handover. `thinking()` extras `q`: minus the
remaining path length to the row's target after each move, 0 for the interaction it chose.
"""

from __future__ import annotations

import numpy as np

from agents.base import Observations
from agents.planners.grid import UNREACHED, Board, distance_fields, look
from agents.planners.navigate import ARRIVED, GO, steer
from agents.planners.planner import PLAN_WORDS, Planner, path_values
from worlds.cells import DOOR, FLOOR, KEY
from worlds.scenarios.keys_v0 import DROP, PICKUP, TOGGLE

KEY_WORDS = (
    "fetch a key",
    "pick up the key",
    "take the key to its door",
    "open the door",
    "drop a key nobody needs",
    "bring the key to the hatch",
    "leave the key on the hatch",
    "wait for a key by the hatch",
)
FETCH, TAKE, TO_DOOR, OPEN, DROP_IT, TO_HATCH, LEAVE, AT_HATCH = range(len(PLAN_WORDS), len(PLAN_WORDS) + 8)


class KeysPlanner(Planner):
    name = "planner"
    plan_words = PLAN_WORDS + KEY_WORDS

    def decide(self, board: Board, obs: Observations):
        scenario, state = obs.scenario, obs.state
        Bw, N = board.shape
        C, width = board.terrain.shape[1], board.width
        rows = np.arange(Bw)[:, None]
        cells = board.terrain.astype(np.int64)
        held = state.extra["inventory"][board.worlds].astype(np.int64)  # [Bw, N], 0 or 1 + colour
        reach = board.fields(board.here, board.alive)  # [Bw, N, C]: steps from each agent
        goal = board.cells(state.goal[board.worlds][:, :1])[:, 0]  # [Bw]
        can_goal = look(reach, goal[:, None, None])[..., 0] < UNREACHED

        # Locked doors at the edge of each agent's region, and the colours they need.
        near = np.full_like(reach, UNREACHED)
        for step in board.steps[1:]:
            near = np.minimum(near, np.roll(reach, -step, axis=-1))
        is_door = (cells >= DOOR) & (cells < DOOR + 4)
        frontier = is_door[:, None] & (near < UNREACHED)  # [Bw, N, C]
        colour = np.where(
            is_door, cells - DOOR, np.where((cells >= KEY) & (cells < KEY + 4), cells - KEY, -1)
        )
        needed = (frontier[..., None] & (colour[:, None, :, None] == np.arange(4))).any(2)  # [Bw, N, 4]

        hatch_col = scenario.hatch_col
        handover = hatch_col >= 0
        opener = np.where(handover, 1, np.arange(N))  # whose frontier decides what is needed
        needed = needed[:, opener]
        col = np.arange(C) % width - board.pad
        fetcher = handover & (np.arange(N) == 0)  # [N]: may not toggle, may take west keys
        hatch = np.zeros((Bw, C), dtype=bool)
        if handover:
            hatch[:, :] = (col == hatch_col) & board.passable
        on_hatch = look(hatch[:, None, :], board.here[..., None])[..., 0]

        # What each agent carries, and whether the opener needs it now.
        carrying = held > 0
        useful = carrying & np.take_along_axis(needed, np.maximum(held - 1, 0)[..., None], -1)[..., 0]
        is_key = (cells >= KEY) & (cells < KEY + 4)
        mine = (
            np.where(fetcher[:, None], col < hatch_col, col >= hatch_col)
            if handover
            else np.ones((N, C), bool)
        )
        wanted_key = (
            is_key[:, None]
            & mine[None]
            & np.take_along_axis(needed, np.maximum(colour, 0)[:, None, :].repeat(N, 1), -1)
            & (reach < UNREACHED)
        )
        floor = (cells == FLOOR) & ~hatch

        # Targets (bool[Bw, N, C]) and plan codes, in order of precedence (the last write wins).
        target = np.zeros((Bw, N, C), dtype=bool)
        plan = np.full((Bw, N), FETCH)
        wait = np.zeros((Bw, N, C), dtype=bool)
        if handover:
            beside = np.roll(hatch, 1, -1), np.roll(hatch, -1, -1)  # the cells east and west of it
            wait = np.stack([beside[1], beside[0]], 1)  # agent 0 waits west, agent 1 east
        empty = ~carrying
        target = np.where(empty[..., None], wanted_key, target)
        idle = empty & ~wanted_key.any(-1)
        if handover:
            target = np.where(idle[..., None], wait, target)
        plan = np.where(idle, AT_HATCH, plan)
        junk = carrying & ~useful
        target = np.where(junk[..., None], floor[:, None], target)
        plan = np.where(junk, DROP_IT, plan)
        opens = useful & ~fetcher
        door_of = frontier & (colour[:, None, :] == (held - 1)[..., None])
        target = np.where(opens[..., None], door_of, target)
        plan = np.where(opens, TO_DOOR, plan)
        brings = useful & fetcher
        hatch_free = (hatch & (cells == FLOOR)).any(-1)[:, None]
        target = np.where((brings & hatch_free)[..., None], hatch[:, None], target)
        target = np.where((brings & ~hatch_free)[..., None], wait[:, :1], target)
        plan = np.where(brings, TO_HATCH, plan)
        target = np.where(can_goal[..., None], goal[:, None, None] == np.arange(C), target)
        plan = np.where(can_goal, GO, plan)

        target &= board.alive[..., None]
        passable = np.broadcast_to(board.passable[:, None], (Bw, N, C)).reshape(Bw * N, C)
        dist = distance_fields(passable, target.reshape(Bw * N, C), width).reshape(Bw, N, C)
        stall, gave_way = self.memory.recall(board, state.t, state.num_worlds)
        actions, steered, gave, near_goal, wanted = steer(board, dist, self.rng, stall, gave_way)
        self.memory.remember(board, wanted, stall, gave)

        # The interactions, where the mask allows them and the plan calls for them.
        legal = board.legal
        underfoot = look(wanted_key, board.here[..., None])[..., 0]
        interact = np.full((Bw, N), -1)
        interact = np.where(empty & underfoot & legal[..., PICKUP], PICKUP, interact)
        interact = np.where(junk & legal[..., DROP], DROP, interact)
        interact = np.where(opens & legal[..., TOGGLE], TOGGLE, interact)
        interact = np.where(brings & on_hatch & legal[..., DROP], DROP, interact)
        interact = np.where(can_goal | ~board.alive, -1, interact)
        doing = interact >= 0
        actions = np.where(doing, interact, actions)
        kind = np.select(
            [interact == PICKUP, interact == TOGGLE, brings, interact == DROP], [TAKE, OPEN, LEAVE, DROP_IT]
        )
        plan = np.where(doing, kind, np.where(np.isin(steered, (GO, ARRIVED)), plan, steered))
        q = np.full((Bw, N, legal.shape[-1]), np.nan, dtype=np.float32)
        q[..., :5] = path_values(near_goal, legal[..., :5])
        q[rows, np.arange(N), np.maximum(interact, 0)] = np.where(doing, 0.0, q[rows, np.arange(N), 0])
        return actions, q, plan, np.where(doing, -1, gave)
