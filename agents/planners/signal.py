"""The signal_v0 planner, for every role. Each agent reads only what its role may know: its own
clue (`extra["clue"]`, the colours the target may be as far as it knows) and the tokens the
others sent (`extra["message"]`), never the target itself.

Talking: an agent whose clue narrows the target down says the first colour of its clue (the
speaker: the target's colour, on every step; an informed agent of a split: its half, on the
first step, or on the first `TALK_NOISY` steps over a noisy channel, then it walks).

Listening: the planner keeps count of the tokens each agent sent this episode. The majority
token of each talker (ties: the one heard last) is decoded through that talker's knowledge:
the colours in the same block of its clue as the word's colour. Intersected with the agent's
own clue, a single colour left is the target; then the agent walks to the nearest landmark of
that colour (breadth-first, around landmarks of other colours and agents that never move) and
waits while it does not know. Over a noisy channel it steps onto the landmark only once the
majority word leads the runner-up by `CONFIRM` counts (it waits next to it until then). A
talker that contradicts the clue (a random speaker naming a colour that is not there) is
ignored.

`thinking()` extras `q`: minus the path length after each move (nan when there is no target
yet); 0 for the word the agent means to say, -1 for other words.
"""

from __future__ import annotations

import numpy as np

from agents.base import Observations
from agents.planners import planner as shared
from agents.planners.grid import UNREACHED, Board, distance_fields, look
from agents.planners.navigate import steer
from agents.planners.planner import Planner, path_values
from worlds.cells import COLOURS, LANDMARK
from worlds.scenario import Scenario
from worlds.scenarios.signal_v0 import NUM_COLOURS, SAY

CONFIRM = 2  # over a noisy channel: how far the majority word must lead before a landmark is stepped on
TALK_NOISY = 5  # steps an informed walker of a split talks before walking, when tokens may be garbled

PLAN_WORDS = (
    "say the target's colour",
    "say what I know of the target",
    "wait for a word",
    "the round is lost",
    "out of the game",
    "random step to get unstuck",
    "give way to {whom}",
    "wait for a free cell",
    "no way to the landmark",
    *(f"go to the {colour} landmark" for colour in COLOURS),
    *(f"stand on the {colour} landmark" for colour in COLOURS),
)
SAY_TARGET, SAY_PART, LISTEN, LOST, OUT, UNSTICK, GIVE_WAY, WAIT, NO_PATH, GO = range(10)
ARRIVED = GO + NUM_COLOURS


class SignalPlanner(Planner):
    name = "planner"
    plan_words = PLAN_WORDS

    def __init__(self, scenario: Scenario, seed: int | None = None):
        super().__init__(scenario, seed)
        self.counts: np.ndarray | None = None  # [worlds, N, vocab + 1]: tokens heard this episode
        self.counted = np.zeros(0, dtype=np.int64)  # the step each world's counts reached

    def decide(self, board: Board, obs: Observations):
        sc, state = self.scenario, obs.state
        w = board.worlds
        Bw, N = board.shape
        t = state.t[w].astype(np.int64)
        clue = state.extra["clue"][w].astype(np.int64)
        message = state.extra["message"][w].astype(np.int64)
        lost = state.extra["lost"][w]
        self._listen(w, t, message, state.num_worlds)

        bits = (clue[..., None] >> np.arange(NUM_COLOURS)) & 1 == 1  # [Bw, N, 4]
        known, sure = self._decode(bits, self.counts[w], message)
        colour = np.where(known.sum(-1) == 1, known.argmax(-1), -1)  # the target, -1 unknown

        # Who talks this step, and which word: the first colour of an informative clue.
        informative = bits.any(-1) & (bits.sum(-1) < len(sc.landmark_colours))
        talk_steps = np.where(sc.moves, 1 if sc.noise == 0 else TALK_NOISY, np.iinfo(np.int64).max)
        talks = sc.speaks & informative & (t[:, None] < talk_steps) & ~lost[:, None]
        word = bits.argmax(-1)

        dist = self._fields(board, colour, lost)
        self._forbid_wrong_landmarks(board, np.where(sure | (sc.noise == 0), colour, -1))
        stall, gave_way = self.memory.recall(board, state.t, state.num_worlds)
        moves, plan, gave, near, wanted = steer(board, dist, self.rng, stall, gave_way)
        self.memory.remember(board, wanted, stall, gave)

        actions = np.where(talks, SAY + word, moves)
        A = len(sc.actions)
        q = np.full((Bw, N, A), np.nan, dtype=np.float32)
        q[..., :5] = path_values(near, board.legal[..., :5])
        says = np.arange(A - SAY)
        q[..., SAY:] = np.where(says == word[..., None], 0.0, -1.0)
        q = np.where(board.legal, q, np.nan).astype(np.float32)
        plan = self._plan_codes(plan, colour, talks, sc.moves, lost, board.alive)
        return actions, q, plan, np.where(plan == GIVE_WAY, gave, -1)

    def _listen(self, w: np.ndarray, t: np.ndarray, message: np.ndarray, num_worlds: int) -> None:
        """Count the tokens of this step once per world; a world back at step 0 (or earlier
        than last counted) started a new episode and forgets."""
        N, V = message.shape[1], len(self.scenario.interactions) + 1
        if self.counts is None or self.counts.shape[0] != num_worlds:
            self.counts = np.zeros((num_worlds, N, V), dtype=np.int64)
            self.counted = np.full(num_worlds, -1, dtype=np.int64)
        fresh = (t == 0) | (t < self.counted[w])
        self.counts[w[fresh]] = 0
        new = t > self.counted[w]
        b, j = np.nonzero(new[:, None] & (message > 0))
        np.add.at(self.counts, (w[b], j, message[b, j]), 1)
        self.counted[w] = np.maximum(t, np.where(fresh, -1, self.counted[w]))

    def _decode(
        self, bits: np.ndarray, counts: np.ndarray, message: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The colours each agent holds possible, bool[Bw, N, 4]: its clue, narrowed by every
        other talker's majority word read through that talker's blocks; and whether every word
        it used leads the runner-up by `CONFIRM` counts, bool[Bw, N] (over a noisy channel a
        listener steps on a landmark only when sure)."""
        blocks = self.scenario.blocks  # [N, 4]
        V = counts.shape[-1]
        known = bits.copy()
        sure = np.ones(bits.shape[:2], dtype=bool)
        recent = (np.arange(V) == message[..., None]) * 0.5  # ties go to the word heard last
        for j in np.flatnonzero(self.scenario.speaks):
            said = counts[:, j].sum(-1) > 0  # [Bw]
            token = (counts[:, j] + recent[:, j]).argmax(-1)  # [Bw]
            c = token - 1
            meaningful = said & (c < NUM_COLOURS)
            block = blocks[j][None, :] == blocks[j][np.minimum(c, NUM_COLOURS - 1)][:, None]  # [Bw, 4]
            narrowed = known & block[:, None, :]
            use = meaningful[:, None] & (np.arange(known.shape[1]) != j)[None, :] & narrowed.any(-1)
            known = np.where(use[..., None], narrowed, known)
            top2 = np.sort(counts[:, j], axis=-1)[:, -2:]
            sure &= ~use | (top2[:, 1] - top2[:, 0] >= CONFIRM)[:, None]
        return known, sure

    def _fields(self, board: Board, colour: np.ndarray, lost: np.ndarray) -> np.ndarray:
        """Steps to the nearest landmark of each agent's target colour, around landmarks of other
        colours and agents that never move, int32[Bw, N, C] (all UNREACHED while unknown)."""
        Bw, N = colour.shape
        C = board.terrain.shape[1]
        mark = board.terrain.astype(np.int64) - LANDMARK  # [Bw, C]
        is_mark = (mark >= 0) & (mark < NUM_COLOURS)
        sources = is_mark[:, None, :] & (mark[:, None, :] == colour[..., None])  # [Bw, N, C]
        sources &= ((colour >= 0) & ~lost[:, None])[..., None]
        open_ = board.passable & ~is_mark
        still = board.alive & ~self.scenario.moves
        b, i = np.nonzero(still)
        open_[b, board.here[b, i]] = False
        grids = open_[:, None, :] | sources
        dist = distance_fields(grids.reshape(Bw * N, C), sources.reshape(Bw * N, C), board.width)
        return dist.reshape(Bw, N, C)

    def _forbid_wrong_landmarks(self, board: Board, colour: np.ndarray) -> None:
        """No move of the planner's own rows onto a landmark other than the target's colour
        (a random step to get unstuck included)."""
        mark = look(board.terrain[:, None, :].astype(np.int64), board.next_cells()) - LANDMARK
        wrong = (mark >= 0) & (mark < NUM_COLOURS) & (mark != colour[..., None])
        wrong[..., 0] = False
        rows = board.slot, board.agent
        board.legal[rows + (slice(0, 5),)] &= ~wrong[rows]

    def _plan_codes(self, steered, colour, talks, moves, lost, alive) -> np.ndarray:
        go = GO + np.maximum(colour, 0)
        plan = np.select(
            [steered == shared.GO_GOAL, steered == shared.ON_PLATE, steered == shared.GIVE_WAY,
             steered == shared.WAIT, steered == shared.UNSTICK],
            [go, go + NUM_COLOURS, GIVE_WAY, WAIT, UNSTICK],
            NO_PATH,
        )  # fmt: skip
        plan = np.where(colour < 0, LISTEN, plan)
        plan = np.where(talks, np.where(moves, SAY_PART, SAY_TARGET), plan)
        plan = np.where(~moves & ~talks, SAY_TARGET, plan)
        plan = np.where(lost[:, None], LOST, plan)
        return np.where(alive, plan, OUT)


__all__ = ["PLAN_WORDS", "SignalPlanner", "UNREACHED"]
