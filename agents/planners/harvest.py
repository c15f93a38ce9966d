"""The harvest_v0 planner: harvest the commons without killing it.

An apple regrows only near other apples, so a patch picked bare is gone for good. Each agent
goes for the nearest apple that its patch can spare: one with at least `KEEP` apples within
radius 2 (the regrowth neighbourhood), so the cells round it keep regrowing; in the last
`ENDGAME` steps, when a new apple would not grow in time anyway, every apple with another
near is fair game (so the last apples stay, and the episode ends with a living orchard). An
apple nearer to another agent is left to that agent while there are others. With nothing to
pick, an agent steps off the orchard (apples do not grow under agents) and waits nearby.

The agent zaps another agent (ready, facing it within the beam) that the planner does not
drive and that stands next to an apple its patch cannot spare, before the endgame: an
overharvester is frozen before it strips the patch. The planner's own agents keep the rule,
so it never zaps them.

Walking uses the planners' shared corridor etiquette (`agents.planners.navigate.steer`).
`thinking()` extras `q`: minus the path length to the agent's target after each move.
"""

from __future__ import annotations

import numpy as np

from agents.base import Observations
from agents.planners.grid import UNREACHED, Board, distance_fields, look
from agents.planners.navigate import steer
from agents.planners.planner import GO_GOAL, ON_PLATE, OUT, PLAN_WORDS, Planner, path_values
from worlds.cells import APPLE
from worlds.scenario import DELTAS

KEEP = 7  # apples within radius 2 an apple needs to be picked (tuned by benchmark: 5-9)
ENDGAME = 30  # steps before the end from which any apple is picked

# The shared plan codes steer() gives (go, arrived, wait, give way, unstick, no path, out), in
# harvest words, and the planner's own after them.
PICK, OFF_ORCHARD = GO_GOAL, ON_PLATE
REGROW, ZAP_HIM, FROZEN = range(len(PLAN_WORDS), len(PLAN_WORDS) + 3)
HARVEST_WORDS = list(PLAN_WORDS)
HARVEST_WORDS[PICK] = "go to an apple its patch can spare"
HARVEST_WORDS[OFF_ORCHARD] = "wait off the orchard for apples to regrow"
HARVEST_WORDS += [
    "step off the orchard so apples can regrow",
    "zap {whom}, who is stripping a patch",
    "frozen",
]


class HarvestPlanner(Planner):
    name = "planner"
    plan_words = tuple(HARVEST_WORDS)

    def decide(self, board: Board, obs: Observations):
        scenario, state = obs.scenario, obs.state
        Bw, N = board.shape
        present = scenario.present(state)[board.worlds]
        frozen = board.alive & ~present
        board.alive = present  # frozen agents neither act nor block
        C = board.terrain.shape[1]
        apple = board.terrain == APPLE
        near = _padded(state.extra["near"][board.worlds], board.pad).reshape(Bw, C)
        orchard = self._orchard(state, board)
        endgame = (scenario.max_cycles - state.t[board.worlds]) <= ENDGAME
        spare = apple & ((near >= KEEP) | (endgame[:, None] & (near > 0)))

        # Steps from every agent to every cell (the grid is undirected: also from every cell).
        reach = board.fields(board.here, present)  # [Bw, N, C]
        others = np.where(np.eye(N, dtype=bool)[None, :, :, None], UNREACHED, reach[:, None]).min(2)
        mine = spare[:, None] & (reach < UNREACHED)
        claimed = mine & (reach <= others)  # nearer to me than to anyone else (ties: both go)
        pick = np.where(claimed.any(-1, keepdims=True), claimed, mine)
        noise = self.rng.random((Bw, N, C))
        score = np.where(pick, reach + noise, np.inf)
        target = score.argmin(-1)
        has = np.isfinite(score.min(-1)) & present
        to_target = board.fields(target, has)
        off = distance_fields(board.passable, board.passable & ~orchard, board.width)  # [Bw, C]
        dist = np.where(has[..., None], to_target, off[:, None])

        stall, gave_way = self.memory.recall(board, state.t, state.num_worlds)
        actions, plan, gave, after, wanted = steer(board, dist, self.rng, stall, gave_way)
        on_orchard = look(orchard, board.here)
        plan = np.where(~has & (plan == PICK) & on_orchard, REGROW, plan)
        whom = gave.copy()

        zap, victim = self._zaps(board, state, scenario, apple & ~spare, present)
        actions = np.where(zap, len(scenario.actions) - 1, actions)
        plan = np.where(zap, ZAP_HIM, np.where(frozen, FROZEN, plan))
        whom = np.where(zap, victim, whom)
        self.memory.remember(board, wanted & ~zap, stall, gave)
        q = np.full((Bw, N, len(scenario.actions)), np.nan, dtype=np.float32)
        q[..., :5] = path_values(after, board.legal[..., :5])
        q[..., -1] = np.where(zap, 0.0, np.nan)
        plan = np.where(board.alive | frozen, plan, OUT)
        return actions, q, plan, whom

    def _orchard(self, state, board: Board) -> np.ndarray:
        """Orchard cells (where apples may regrow) of the board's worlds, bool[Bw, C]."""
        cells = state.extra["orchard"][board.worlds]  # flat map cells, -1 padded
        W = state.shape[1]
        mask = np.zeros(board.terrain.shape, dtype=bool)
        b, k = np.nonzero(cells >= 0)
        row, col = np.divmod(cells[b, k], W)
        mask[b, (row + board.pad) * board.width + col + board.pad] = True
        return mask

    def _zaps(self, board: Board, state, scenario, scarce: np.ndarray, present: np.ndarray):
        """Who zaps (bool[Bw, N]) and whom (int[Bw, N], -1): a ready agent whose beam's first
        agent, one this planner does not drive, stands next to an apple its patch cannot spare."""
        Bw, N = board.shape
        facing = np.maximum(state.last_move[board.worlds].astype(np.int64), 1)  # north before any move
        step = (DELTAS[facing] @ np.array([board.width, 1])).astype(np.int64)  # [Bw, N]
        who = board.occupant()
        victim = np.full((Bw, N), -1, dtype=np.int64)
        open_ = np.ones((Bw, N), dtype=bool)
        rows = np.arange(Bw)[:, None]
        for k in range(1, scenario.beam_length + 1):
            cell = board.here + k * step
            cell = np.clip(cell, 0, board.terrain.shape[1] - 1)
            open_ &= board.passable[rows, cell]
            found = open_ & (victim < 0) & (who[rows, cell] >= 0)
            victim = np.where(found, who[rows, cell], victim)
            open_ &= ~found
        j = np.maximum(victim, 0)
        beside = look(scarce[:, None, :], board.here[..., None] + board.steps[1:]).any(-1)  # [Bw, N]
        ready = board.legal[..., -1] & present
        mine = np.zeros((Bw, N), dtype=bool)  # the planner's own agents keep the rule: no policing
        mine[board.slot, board.agent] = True
        zap = ready & (victim >= 0) & beside[rows, j] & ~mine[rows, j]
        return zap, np.where(zap, victim, -1)


def _padded(grid: np.ndarray, pad: int) -> np.ndarray:
    """Map-shaped arrays [B, H, W] with the VOID margin added (zeros), [B, H + 2p, W + 2p]."""
    return np.pad(grid, ((0, 0), (pad, pad), (pad, pad)))
