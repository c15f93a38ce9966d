"""The tag_v0 planner, for both teams. Both read the world through one idea, a runner's room:
the cells a runner can reach before any hunter can.

Hunters: `tag` when a runner stands on one of the four cells next to them (tags land before
moves, so it cannot step away). Otherwise each hunter picks the free cell that shrinks the
nearest live runner's room the most (given where the other hunters stand), weighed against
getting nearer to it: `CUT_OFF` cells of room count as much as one step of distance. Hunters
that only chase end up behind a runner in a line; cutting off its room is what makes two
hunters corner it.

Runners: step to the free cell that keeps the nearest hunter farthest away, up to `SAFE` steps
(from that far a hunter cannot get next to the runner before its next move); among cells that
far, the one with the most room, counting a cell as the runner's when it gets there with the
hunters still `SAFE` steps off. Seeded noise breaks the remaining ties, so episodes differ.

`thinking()` extras `q`: for hunters, minus the path length to the nearest runner after each
move (0 for a tag that catches); for runners, the distance each move keeps from the nearest
hunter.
"""

from __future__ import annotations

import numpy as np

from agents.base import Observations
from agents.planners.grid import UNREACHED, Board, look
from agents.planners.navigate import unstick
from agents.planners.planner import CHASE, FLEE, OUT, TAG, UNSTICK, Planner

SAFE = 3
CUT_OFF = 2.0  # cells of a runner's room a hunter trades for one step nearer (tuned by benchmark)


class TagPlanner(Planner):
    name = "planner"

    def decide(self, board: Board, obs: Observations):
        hunter = np.asarray(obs.scenario.hunter, dtype=bool)
        tag = len(obs.scenario.actions) - 1  # the one interaction
        Bw, N = board.shape
        rows = np.arange(Bw)[:, None]
        alive = board.alive
        nxt = board.next_cells()
        legal = board.legal & alive[..., None]
        legal[..., 0] = True
        held = look(board.occupant()[:, None, :], nxt) >= 0
        held[..., 0] = False
        free = legal[..., :5] & ~held
        noise = self.rng.random((Bw, N, 5))

        # One search for every free cell a live agent can step to (its own cell included, so
        # fields[b, j] is the field of agent j itself).
        ok = free & alive[..., None]
        reach = board.fields(nxt.reshape(Bw, -1), ok.reshape(Bw, -1)).reshape(Bw, N, 5, -1)
        fields = reach[:, :, 0]
        # d[b, i, j, a]: steps from agent j to the cell agent i's move a leads to.
        d = look(fields[:, None], nxt[:, :, None])
        to_runner, runner = _nearest(d, alive & ~hunter)
        to_hunter, chaser = _nearest(d, alive & hunter)
        hunters = np.where((alive & hunter)[..., None], fields, UNREACHED)  # [Bw, N, C]

        # Hunters.
        H = np.flatnonzero(hunter)
        score = -to_runner.astype(np.float64)
        if (alive & ~hunter).any():
            # Each hunter's candidate cells, beside the other hunters where they are now.
            others = ~np.eye(len(H), dtype=bool)[None, :, :, None]
            guard = np.where(others, hunters[:, None, H], UNREACHED).min(2)  # [Bw, H, C]
            guard = np.minimum(reach[:, H], guard[:, :, None])
            prey = fields[rows, np.maximum(runner[:, H], 0)]  # [Bw, H, C]
            room = (prey[:, :, None] < guard).sum(-1)
            score[:, H] -= room / CUT_OFF
        catch = legal[..., tag] & (to_runner[..., 0] == 1)
        chase = np.where(free, score + 0.9 * noise, -np.inf).argmax(-1)
        actions = np.where(catch, tag, chase)
        q = np.full((Bw, N, tag + 1), np.nan, dtype=np.float32)
        q[..., :5] = -(1.0 + np.minimum(to_runner, UNREACHED))
        q[..., tag] = np.where(catch, 0.0, q[..., 0])
        plan = np.where(catch, TAG, CHASE)
        whom = runner

        # Runners: only their candidate cells need a field of their own (the room count).
        R = np.flatnonzero(~hunter)
        danger = hunters.min(1)  # [Bw, C]: steps from the nearest hunter
        # Safe on arrival: the hunters, one step nearer already, still SAFE - 1 steps off.
        room = (reach[:, R] < danger[:, None, None, :] - (SAFE - 1)).sum(-1)
        C = board.terrain.shape[1]
        score = np.minimum(to_hunter[:, R], SAFE) * (C + 1) + room + noise[:, R]
        actions[:, R] = np.where(ok[:, R], score, -np.inf).argmax(-1)
        q[:, R, :5] = to_hunter[:, R]
        plan[:, R] = FLEE
        whom[:, R] = chaser[:, R]

        stall, _ = self.memory.recall(board, obs.state.t, obs.state.num_worlds)
        moving = (actions > 0) & (actions < 5)
        actions, stuck = unstick(actions, legal[..., :5], stall, self.rng)
        self.memory.remember(board, moving, stall, np.full((Bw, N), -1))
        plan = np.where(alive, np.where(stuck, UNSTICK, plan), OUT)
        whom = np.where(alive & ~stuck, whom, -1)
        q = np.where(legal & (q > -UNREACHED) & (q < UNREACHED), q, np.nan).astype(np.float32)
        return actions, q, plan, whom


def _nearest(d: np.ndarray, among: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steps from the nearest agent of `among` bool[Bw, N] to each move's cell, int[Bw, N, 5],
    and which agent is nearest now, int[Bw, N] (-1 when there is none)."""
    d = np.where(among[:, None, :, None], d, UNREACHED)
    nearest = d[..., 0].argmin(-1)
    nearest = np.where(among.any(-1, keepdims=True), nearest, -1)
    return d.min(2), nearest
