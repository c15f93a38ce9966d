"""The flags_v0 planner, for either team. Roles by seat: the even agents of a team attack, the
odd ones defend (a team of one attacks).

Attackers walk to the rival flag and, once it is carried by their team, to their own base.
Defenders walk to the nearest rival standing on their half, else to their own flag (wherever it
is: on its base, or with the rival who carries it). Anyone who may `tag` (on its own half next
to a rival there) tags. Walking uses `navigate.steer`'s corridor etiquette.

`thinking()` extras `q`: minus the remaining path length to the row's target after each move,
0 for a tag.
"""

from __future__ import annotations

import numpy as np

from agents.base import Observations
from agents.planners.grid import UNREACHED, Board
from agents.planners.navigate import steer
from agents.planners.planner import GIVE_WAY, OUT, UNSTICK, WAIT, Planner

FLAGS_WORDS = (
    "go for the rival flag",
    "carry the flag home",
    "guard our flag",
    "chase an intruder",
    "tag",
    "wait for a free cell",
    "give way to {whom}",
    "random step to get unstuck",
    "out of the game",
)
ATTACK, CARRY, GUARD, CHASE, TAGGING, WAIT_CELL, GIVE, STUCK, GONE = range(len(FLAGS_WORDS))


class FlagsPlanner(Planner):
    name = "planner"
    plan_words = FLAGS_WORDS

    def decide(self, board: Board, obs: Observations):
        Bw, N = board.shape
        rows = np.arange(Bw)[:, None]
        scenario, state = self.scenario, obs.state
        teams = np.asarray(scenario.teams)
        rank = np.array([int((teams[:i] == teams[i]).sum()) for i in range(N)])
        size = np.bincount(teams, minlength=2)[teams]
        attacker = (rank % 2 == 0) | (size == 1)
        x = {k: v[board.worlds] for k, v in state.extra.items()}
        rival = 1 - teams
        pos = board.position(board.here)
        width = state.shape[1]
        half = np.where(2 * pos[..., 1] < width - 1, 0, np.where(2 * pos[..., 1] > width - 1, 1, -1))
        carried_by_team = x["carrier"][:, rival] >= 0  # [Bw, N]: the rival flag is ours now
        carried_by_team &= teams[np.maximum(x["carrier"][:, rival], 0)] == teams
        base = board.cells(x["base"][:, teams])  # [Bw, N]
        rival_flag = board.cells(x["flag"][:, rival])
        own_flag = board.cells(x["flag"][:, teams])
        # Intruders: live rivals on my half; the defender goes for the nearest (Manhattan).
        gap = np.abs(pos[:, :, None] - pos[:, None, :]).sum(-1)  # [Bw, N, N]
        intruder = board.alive[:, None, :] & (teams[None, :, None] != teams[None, None, :])
        intruder &= half[:, None, :] == teams[:, None]
        near = np.where(intruder, gap, UNREACHED).argmin(-1)
        has_intruder = intruder.any(-1)
        target = np.where(attacker, np.where(carried_by_team, base, rival_flag), own_flag)
        target = np.where(~attacker & has_intruder, board.here[rows, near], target)
        plan = np.where(
            attacker, np.where(carried_by_team, CARRY, ATTACK), np.where(has_intruder, CHASE, GUARD)
        )
        dist = board.fields(target, board.alive)
        stall, gave_way = self.memory.recall(board, state.t, state.num_worlds)
        actions, moved_plan, gave, near_d, wanted = steer(board, dist, self.rng, stall, gave_way)
        self.memory.remember(board, wanted, stall, gave)
        plan = np.where(moved_plan == WAIT, WAIT_CELL, plan)
        plan = np.where(moved_plan == GIVE_WAY, GIVE, np.where(moved_plan == UNSTICK, STUCK, plan))
        tag = len(scenario.actions) - 1
        tagging = board.legal[..., tag] & board.alive
        actions = np.where(tagging, tag, actions)
        plan = np.where(tagging, TAGGING, plan)
        plan = np.where(board.alive & (moved_plan != OUT), plan, GONE)
        q = np.full((Bw, N, tag + 1), np.nan, dtype=np.float32)
        q[..., :5] = np.where(near_d < UNREACHED, -(1.0 + near_d), np.nan)
        q[..., tag] = np.where(tagging, 0.0, np.nan)
        q = np.where(board.legal, q, np.nan).astype(np.float32)
        return actions, q, plan, np.where(plan == GIVE, gave, -1)
