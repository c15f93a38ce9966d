"""signal_v0: communicate.

Description:
    Coloured landmarks (`!` red, `%` blue, `&` yellow, `*` violet; `num_landmarks` of them,
    2..4) stand in an open `size` x `size` room (or a `map=` with landmark cells). One landmark
    colour is the target, drawn anew each episode. Agents know different parts of which one it
    is and can only share what they know by saying words: a `say_<word>` action sends one
    token, which every agent hears on the next step (and only then: a word is not repeated
    unless it is said again). With `noise` > 0 each token sent is replaced, with that
    probability, by a token drawn uniformly from the vocabulary (the same garbled word reaches
    every listener). Draws come from a per-world seed kept in the state, hashed with the step
    and the speaker, so a batch world replays its single env exactly.

    Roles (`roles`):
    * `"speaker"` (default): agent_0 is the speaker; it knows the target but cannot move.
      agent_1.. are listeners; they move but do not know the target and cannot talk.
    * `"split"`: agent_0 and agent_1 each know half: agent_0 which colours of the target's
      parity (red/yellow or blue/violet), agent_1 which pair (red/blue or yellow/violet). Both
      talk and move; together they know the target. Further agents are listeners.

Agents:
    `num_agents` (default 2, 2..10), one team: agent_0, agent_1, ...

Observation:
    The egocentric view (default 9x9, which covers the whole default room from anywhere), no
    goal compass (channel 2 stays 0), plus three extra channels, each constant over the view:
    3 the agent's clue, a bitmask of the colours that may still be the target as far as it
    knows (bit k: colour k; 0 once the round is lost), 4 the token agent_0 sent last step,
    5 the token agent_1 sent last step (0 silence, k + 1 the word `WORDS[k]`). Dict entries:
    `message` int8[num_agents], every agent's token of last step; `clue` int8[4], the clue's
    bits. The text view says what the agent knows and `agent_0 says "red"` per token heard.

Actions:
    Discrete(5 + vocab): noop, north, south, east, west, say_red, say_blue, say_yellow,
    say_violet (`vocab` tokens, default 4: the colour words, then sun, moon, star, tree).
    The speaker's moves are masked, and so are the listeners' words; after a lost round
    everything but noop is.

Rewards:
    Team reward, the same for every agent: 1 - 0.9 * (steps taken / max_cycles) on the step
    any moving agent stands on a landmark of the target colour; 0 otherwise. With
    `approach_bonus` (default 0, a shaping for learners) each walker also gets that much per cell
    it gets nearer the nearest target landmark (minus as much per cell away).

Termination:
    Every agent terminates when the target is reached (the success). Stepping on a landmark of
    another colour loses the round: nobody can move or talk any more and the agents wait,
    unrewarded, until they are truncated at `max_cycles` (so a lost round is not a success). A
    target reached and a wrong landmark on the same step count as reached.

Version History:
    v0: initial release.
    v0 (batched layouts): generated rooms are drawn for every world of a batch in one call,
    from counter-based keys (`worlds.seeding`), by the same rules as before: the same
    distribution of layouts, but a seed gives another layout than before (records of earlier
    generated episodes no longer replay). Map files, rules and observations are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from gymnasium import spaces
from numba import njit

from worlds.cells import COLOURS, FLOOR, LANDMARK, NUM_CELLS, WALL
from worlds.env import scenario_module
from worlds.kernels import time_bonus
from worlds.mapgen import open_arena, spawn_agents
from worlds.maps import MapError
from worlds.scenario import Layout, Scenario, Sprite
from worlds.seeding import Draws

SAY = 5  # the first say action
# Token k + 1 is WORDS[k]: the colour words, then words that mean nothing until a policy says so.
WORDS = (*COLOURS, "sun", "moon", "star", "tree")
ROLES = ("speaker", "split")
NUM_COLOURS = len(COLOURS)
CLUE_CODES = 1 << NUM_COLOURS  # the clue channel's codes: every subset of the colours
RGB = {"red": (230, 60, 60), "blue": (70, 130, 240), "yellow": (240, 210, 60), "violet": (170, 100, 230)}


@dataclass(frozen=True)
class Signal(Scenario):
    num_agents: int = 2
    view_size: int = 9
    max_cycles: int = 40
    size: int = 7
    num_landmarks: int = 3
    vocab: int = 4
    noise: float = 0.0
    approach_bonus: float = 0.0  # shaping for learners: per cell a walker gets nearer the target
    roles: str = "speaker"

    name = "signal_v0"
    limits = {
        "size": (5, 15),
        "num_landmarks": (2, 4),
        "vocab": (2, 8),
        "noise": (0.0, 1.0),
        "approach_bonus": (0.0, 1.0),
    }
    num_cells = NUM_CELLS
    legend_cells = (WALL, FLOOR, *range(LANDMARK, LANDMARK + NUM_COLOURS))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_agents < 2:
            raise ValueError(
                f"signal_v0: num_agents must be 2..10 (someone talks, someone walks), got {self.num_agents}"
            )
        if self.roles not in ROLES:
            raise ValueError(f"signal_v0: roles must be one of {ROLES}, got {self.roles!r}")
        if not 2 <= self.num_landmarks <= NUM_COLOURS:
            raise ValueError(f"signal_v0: num_landmarks must be 2..{NUM_COLOURS}, got {self.num_landmarks}")
        if self.roles == "split" and self.map is None and self.num_landmarks < 3:
            raise ValueError(
                "signal_v0: roles='split' needs num_landmarks >= 3 (with 2, one agent knows all)"
            )
        if not self.num_landmarks <= self.vocab <= len(WORDS):
            raise ValueError(
                f"signal_v0: vocab must be num_landmarks..{len(WORDS)} (a word per landmark colour), "
                f"got {self.vocab}"
            )
        if not (isinstance(self.noise, (int, float)) and 0.0 <= self.noise <= 1.0):
            raise ValueError(f"signal_v0: noise must be a probability in 0..1, got {self.noise!r}")
        if self.map is None:
            if not 5 <= self.size <= 15:
                raise ValueError(f"signal_v0: size must be 5..15, got {self.size}")
            if (self.size - 2) ** 2 < self.num_landmarks + self.num_agents:
                raise ValueError(
                    f"signal_v0: size {self.size} has {(self.size - 2) ** 2} free cells, too few for "
                    f"{self.num_landmarks} landmarks and {self.num_agents} agents"
                )
        else:
            self._check_map()

    def _check_map(self) -> None:
        grid = self.grid_map
        colours = np.unique(grid.terrain[grid.terrain >= LANDMARK]) - LANDMARK
        if len(colours) < 2:
            raise MapError(grid.source, 1, 1, "signal_v0 needs landmarks of at least two colours")
        if colours.max() >= self.vocab:
            raise ValueError(
                f"{grid.source}: a {COLOURS[colours.max()]} landmark needs vocab >= {colours.max() + 1}, "
                f"got vocab={self.vocab}"
            )

    # -- roles ------------------------------------------------------------------------------
    @property
    def interactions(self) -> tuple[str, ...]:
        return tuple(f"say_{word}" for word in WORDS[: self.vocab])

    @property
    def extra_channels(self) -> tuple[int, ...]:
        return (CLUE_CODES, self.vocab + 1, self.vocab + 1)

    @cached_property
    def speaks(self) -> np.ndarray:
        """Who may talk, bool[N]: the speaker, or both informed agents of a split."""
        return np.arange(self.num_agents) < (1 if self.roles == "speaker" else 2)

    @cached_property
    def moves(self) -> np.ndarray:
        """Who may move, bool[N]: everyone but the speaker."""
        return (np.arange(self.num_agents) > 0) | (self.roles == "split")

    @cached_property
    def blocks(self) -> np.ndarray:
        """How each agent's knowledge splits the colours, int[N, 4]: an agent is told the block
        holding the target (a speaker's blocks are single colours, a listener has one block)."""
        blocks = np.zeros((self.num_agents, NUM_COLOURS), dtype=np.int64)
        colour = np.arange(NUM_COLOURS)
        if self.roles == "speaker":
            blocks[0] = colour
        else:
            blocks[0], blocks[1] = colour % 2, colour // 2
        return blocks

    def role(self, agent: int) -> str:
        if not self.moves[agent]:
            return "speaker"
        return "listener" if not self.speaks[agent] else "informed"

    # -- episodes ---------------------------------------------------------------------------
    def layouts(self, draws: Draws) -> Layout:
        if self.grid_map is not None:
            return super().layouts(draws)  # a map: spawns and targets drawn world by world
        K, L, N = len(draws), self.num_landmarks, self.num_agents
        terrain = np.empty((K, self.size, self.size), dtype=np.uint8)
        pos = np.empty((K, N, 2), dtype=np.int64)
        target = np.empty(K, dtype=np.int8)
        signal_rooms(draws.uniform(L + N + 1), self._room, self._spots, self._floor, L, self._still,
                     self._speaker_cells, terrain, pos, target)  # fmt: skip
        extra = {
            "target": target,
            "clue": self.clues[target],  # every agent's clue, int8[K, N]
            "message": np.zeros((K, N), dtype=np.int8),
            "lost": np.zeros(K, dtype=bool),
            "seed": draws.words(1, part=1)[:, 0],  # the noise draws' key
        }
        return Layout(terrain, pos, np.broadcast_to(self._no_goals, (K, N, 2)), extra)

    def layout(self, rng: np.random.Generator) -> Layout:
        """A map's start: its landmarks, spawns drawn from `rng`, a target colour among the map's
        (generated rooms come from `layouts`, a batch at a time)."""
        if self.grid_map is None:
            return super().layout(rng)
        terrain = self.grid_map.terrain.copy()
        marks = np.argwhere(terrain >= LANDMARK)
        pos = spawn_agents(self.grid_map, self.num_agents, rng, avoid=marks)
        target = self.landmark_colours[rng.integers(len(self.landmark_colours))]
        extra = {
            "target": np.int8(target),
            "clue": self.clues[target],
            "message": np.zeros(self.num_agents, dtype=np.int8),
            "lost": np.False_,
            "seed": np.uint64(rng.integers(1 << 63)),
        }
        return Layout(terrain, pos, self._no_goals, extra)

    @cached_property
    def _still(self) -> int:
        """1 when the speaker (agent 0, immobile) takes a landmark spot too, else 0."""
        return int(not self.moves[0] and len(self._spots) > self.num_landmarks)

    @cached_property
    def _room(self) -> np.ndarray:
        return open_arena(self.size, self.size)

    @cached_property
    def _spots(self) -> np.ndarray:
        """The landmark spots: inner cells with odd row and column, as flat indices."""
        odd = range(1, self.size - 1, 2)
        return np.array([r * self.size + c for r in odd for c in odd], dtype=np.int64)

    @cached_property
    def _floor(self) -> np.ndarray:
        """The other inner cells, as flat indices; those the speaker may stand on first (see
        `_speaker_cells`)."""
        inner = np.flatnonzero(self._room == FLOOR)
        floor = inner[~np.isin(inner, self._spots)]
        safe = np.array([self._cuts_nothing(cell, floor) for cell in floor.tolist()], dtype=bool)
        return np.concatenate([floor[safe], floor[~safe]])

    @cached_property
    def _speaker_cells(self) -> int:
        """How many cells at the head of `_floor` the immobile speaker may take when every spot
        holds a landmark (0: any, since it stands on a spot of its own or can move): the floor
        cells it would cut no floor cell off from the rest, nor any landmark from the floor.
        Elsewhere a still speaker could wall a listener in between landmarks (the centre of a
        5 x 5 room, say), and its round could not be won."""
        if self._still or self.moves[0]:
            return 0
        floor = np.flatnonzero(self._room == FLOOR)
        floor = floor[~np.isin(floor, self._spots)]
        return sum(self._cuts_nothing(cell, floor) for cell in floor.tolist())

    def _cuts_nothing(self, cell: int, floor: np.ndarray) -> bool:
        """Whether the floor without `cell` is one region that touches every spot."""
        width = self.size
        rest = {c for c in floor.tolist() if c != cell}
        seen, frontier = {next(iter(rest))}, [next(iter(rest))]
        while frontier:
            here = frontier.pop()
            for step in (-width, width, -1, 1):
                if here + step in rest and here + step not in seen:
                    seen.add(here + step)
                    frontier.append(here + step)
        touched = all(any(spot + step in rest for step in (-width, width, -1, 1)) for spot in self._spots)
        return seen == rest and touched

    @cached_property
    def _no_goals(self) -> np.ndarray:
        return np.full((self.num_agents, 2), -1)

    @cached_property
    def landmark_colours(self) -> np.ndarray:
        """The landmark colours of the episodes, int[K]."""
        if self.grid_map is None:
            return np.arange(self.num_landmarks)
        return np.unique(self.grid_map.terrain[self.grid_map.terrain >= LANDMARK]) - LANDMARK

    @cached_property
    def clues(self) -> np.ndarray:
        """Every agent's clue when colour k is the target, int8[4, N]: the bitmask of the
        colours in the target's block of the agent's knowledge, among those on the map."""
        present = np.isin(np.arange(NUM_COLOURS), self.landmark_colours)
        told = (self.blocks[None] == self.blocks.T[:, :, None]) & present  # [target, N, colour]
        return (told * (1 << np.arange(NUM_COLOURS))).sum(-1).astype(np.int8)

    # -- rules ------------------------------------------------------------------------------
    def can_move(self, state) -> np.ndarray:
        return self.moves & ~state.extra["lost"][:, None]

    def interaction_mask(self, state) -> np.ndarray:
        talk = self.speaks & state.alive & ~state.extra["lost"][:, None]
        return np.repeat(talk[..., None], self.vocab, axis=-1)

    def interact(self, state, actions):
        x = state.extra
        actions = np.asarray(actions, dtype=np.int64)
        signal_speak(actions, state.alive, x["seed"], state.t, float(self.noise), self.vocab, x["message"])
        if not self.approach_bonus:
            return {}
        before = np.empty(state.alive.shape, dtype=np.int64)
        target_distance(state.terrain, state.pos, state.pad, x["target"], before)
        return {"distance": before}

    def judge(self, state, actions, events):
        B, N = state.alive.shape
        rewards = np.empty((B, N), dtype=np.float64)
        terminated = np.empty((B, N), dtype=bool)
        won = np.empty(B, dtype=bool)
        x = state.extra
        signal_judge(
            state.terrain, state.pos, state.alive, self.moves, state.pad, state.t, self.max_cycles,
            x["target"], x["lost"], x["clue"], rewards, terminated, won,
        )  # fmt: skip
        events["won"] = won
        if self.approach_bonus:  # potential-based: cells gained towards the target landmark
            after = np.empty(state.alive.shape, dtype=np.int64)
            target_distance(state.terrain, state.pos, state.pad, x["target"], after)
            walking = state.alive & self.moves & ~x["lost"][:, None]
            rewards += self.approach_bonus * np.where(walking, events["distance"] - after, 0)
        return rewards, terminated

    def success(self, terminated):
        return terminated.all(-1)

    # -- what agents perceive ---------------------------------------------------------------
    def fill_views(self, state, present, views):
        signal_views(state.extra["clue"], state.extra["message"], views)

    def extra_spaces(self) -> dict:
        n = self.num_agents
        return {
            "message": spaces.Box(0, self.vocab, (n,), dtype=np.int8),
            "clue": spaces.Box(0, 1, (NUM_COLOURS,), dtype=np.int8),
        }

    def extra_observations(self, state) -> dict[str, np.ndarray]:
        message, clue = state.extra["message"], state.extra["clue"]
        n = self.num_agents
        bits = (clue[..., None] >> np.arange(NUM_COLOURS, dtype=np.int8)) & 1
        return {"message": np.repeat(message[:, None, :], n, axis=1), "clue": bits.astype(np.int8)}

    def status_words(self, state, world: int, agent: int) -> list[str]:
        x = state.extra
        lines = [self.knowledge_words(int(x["clue"][world, agent]), agent)]
        names = self.agent_names
        heard = [
            ("You said" if j == agent else f"{names[j]} says") + f' "{WORDS[token - 1]}".'
            for j, token in enumerate(x["message"][world].tolist())
            if token
        ]
        lines += heard or ["Nobody said anything last step."]
        if x["lost"][world]:
            lines.append("A wrong landmark was stepped on: the round is lost; wait for the time to run out.")
        return lines

    def knowledge_words(self, clue: int, agent: int) -> str:
        colours = [COLOURS[k] for k in range(NUM_COLOURS) if clue >> k & 1]
        if not colours:
            return "There is no target left to find."
        if len(colours) == 1:
            return f"You know the target is the {colours[0]} landmark."
        if self.role(agent) == "informed":
            return f"You know the target is the {' or the '.join(colours)} landmark."
        return f"You do not know which landmark is the target ({', '.join(colours)})."

    def goal_words(self, agent: int) -> str:
        role = self.role(agent)
        if role == "speaker":
            return "you cannot move; tell the others which landmark is the target by saying its colour"
        if role == "listener":
            return (
                "step on the target landmark; listen to what the others say, "
                "since a landmark of another colour loses the round"
            )
        return (
            "you know part of which landmark is the target, a teammate the rest: say what you know, "
            "listen, then step on the target; a landmark of another colour loses the round"
        )

    def sprites(self, state, world: int) -> list[Sprite]:
        said = state.extra["message"][world]
        return [
            Sprite(
                int(state.pos[world, i, 0]),
                int(state.pos[world, i, 1]),
                "bubble",
                RGB.get(WORDS[said[i] - 1], (255, 255, 255)),
                WORDS[said[i] - 1],
            )  # fmt: skip
            for i in np.flatnonzero(said > 0)
        ]


@njit(cache=True)
def signal_rooms(u, room, spots, floor, num_landmarks, still, speaker_cells, terrain, pos, target):
    """Open rooms with landmarks for every world k of a batch, from its draws `u[k]` (L + N + 1
    of them): landmarks (and the immobile speaker, with `still`) on a random pick of the `spots`
    (inner cells with odd row and column: the cells with an even coordinate form a connected
    web round them, so every floor cell reaches every landmark without crossing another), the
    other agents on the rest of the inner cells (agent 0 on the first `speaker_cells` of
    `floor` when that is not 0), and the target colour. Landmark k has colour k; cells are flat
    indices into the `room` uint8[H, W]."""
    H, W = room.shape
    L, N = num_landmarks, pos.shape[1]
    pick = np.empty(len(spots), np.int64)
    pool = np.empty(len(floor) + len(spots), np.int64)
    for b in range(u.shape[0]):
        pick[:] = spots
        _shuffle(pick, L + still, u[b], 0, 0)
        pool[: len(floor)] = floor
        rest = len(spots) - L - still
        pool[len(floor) : len(floor) + rest] = pick[L + still :]
        _shuffle(pool[: len(floor) + rest], N - still, u[b], L + still, speaker_cells)
        terrain[b] = room
        for k in range(L):
            terrain[b, pick[k] // W, pick[k] % W] = LANDMARK + k
        for i in range(N):
            cell = pick[L + i] if i < still else pool[i - still]
            pos[b, i, 0], pos[b, i, 1] = cell // W, cell % W
        target[b] = int(u[b, L + N] * L)


@njit(cache=True)
def _shuffle(pool, count, draws, first, head):
    """The first `count` swaps of a Fisher-Yates shuffle of `pool`, in place, from `draws[first:]`;
    with `head` > 0, the first swap picks among the first `head` cells only."""
    for k in range(count):
        span = head if k == 0 and head > 0 else len(pool) - k
        j = k + int(draws[first + k] * span)
        pool[k], pool[j] = pool[j], pool[k]


# splitmix64 constants: the noise draws hash (seed, step, speaker) into uniform 64-bit words.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_STEP = np.uint64(0xD6E8FEB86659FD93)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_UNIT = 1.0 / 9007199254740992.0  # 2 ** -53


@njit(cache=True)
def _mix(z):
    """splitmix64's finaliser: a uint64 to a well-spread uint64."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True)
def signal_speak(actions, alive, seed, t, noise, vocab, message):
    """signal_v0, before moves: each live agent's say action becomes its token (k + 1 for the
    k-th word, 0 for silence) in `message` int8[B, N]; with probability `noise` a token is
    replaced by one drawn uniformly from 1..vocab, from a hash of (world seed, step, agent)."""
    B, N = alive.shape
    for b in range(B):
        for i in range(N):
            a = actions[b, i]
            token = a - SAY + 1 if alive[b, i] and a >= SAY else 0
            if token > 0 and noise > 0.0:
                h = _mix(seed[b] ^ (np.uint64(t[b]) * _STEP) ^ (np.uint64(i + 1) * _GOLDEN))
                if np.float64(h >> _S11) * _UNIT < noise:
                    token = 1 + np.int64(_mix(h) % np.uint64(vocab))
            message[b, i] = token


@njit(cache=True)
def signal_judge(
    terrain, pos, alive, moves, pad, t, max_cycles, target, lost, clue, rewards, terminated, won
):
    """signal_v0, after moves: a live moving agent on a landmark of the target colour wins for
    the team (time bonus for all, all terminate); on a landmark of another colour (and none on
    the target) the round is lost for good: `lost`, and every clue is emptied."""
    B, N = alive.shape
    for b in range(B):
        hit = wrong = False
        if not lost[b]:
            for i in range(N):
                if alive[b, i] and moves[i]:
                    colour = terrain[b, pos[b, i, 0] + pad, pos[b, i, 1] + pad] - LANDMARK
                    if 0 <= colour < 4:
                        if colour == target[b]:
                            hit = True
                        else:
                            wrong = True
        if wrong and not hit:
            lost[b] = True
            for i in range(N):
                clue[b, i] = 0
        team = time_bonus(t[b], max_cycles) if hit else 0.0
        for i in range(N):
            rewards[b, i] = team
            terminated[b, i] = hit
        won[b] = hit


@njit(cache=True)
def target_distance(terrain, pos, pad, target, out):
    """Each agent's Manhattan distance to the nearest landmark of its world's target colour,
    int64[B, N] into `out` (0 when the map has none)."""
    B, N = pos.shape[0], pos.shape[1]
    H, W = terrain.shape[1], terrain.shape[2]
    for b in range(B):
        code = LANDMARK + target[b]
        for i in range(N):
            best = -1
            for y in range(H):
                for x in range(W):
                    if terrain[b, y, x] == code:
                        d = abs(y - pad - pos[b, i, 0]) + abs(x - pad - pos[b, i, 1])
                        if best < 0 or d < best:
                            best = d
            out[b, i] = max(best, 0)


@njit(cache=True)
def signal_views(clue, message, views):
    """signal_v0's view channels, constant over each view: 3 the observer's clue, 4 and 5 the
    tokens agent_0 and agent_1 sent last step."""
    B, N, V = views.shape[0], views.shape[1], views.shape[2]
    for b in range(B):
        first = message[b, 0]
        second = message[b, 1] if N > 1 else 0
        for i in range(N):
            mine = clue[b, i]
            for y in range(V):
                for x in range(V):
                    views[b, i, y, x, 3] = mine
                    views[b, i, y, x, 4] = first
                    views[b, i, y, x, 5] = second


def task_family(rng: np.random.Generator, split: str) -> tuple[dict, float]:
    """A signal_v0 config for the task generator and its difficulty. The knobs: roles, landmark
    count, channel noise, listener count and room size; "train" and "test" draw from disjoint
    combinations of them (a combination is held out for test when its knob indices sum to a
    multiple of 3), while every single knob value occurs in both. Difficulty grows with
    landmarks (chance of a blind guess), noise, crowding, a split clue and room size."""
    if split not in ("train", "test"):
        raise ValueError(f"signal_v0 task_family: split must be 'train' or 'test', got {split!r}")
    combos = [combo for combo in _TASK_KNOBS if (sum(combo) % 3 == 0) == (split == "test")]
    roles, landmarks, noise, listeners, size = combos[rng.integers(len(combos))]
    config = {
        "roles": ROLES[roles],
        "num_landmarks": 2 + landmarks,
        "noise": (0.0, 0.1, 0.2)[noise],
        "num_agents": (1 if roles == 0 else 2) + listeners,
        "size": 6 + size,
    }
    difficulty = landmarks + 5 * config["noise"] + 0.5 * listeners + roles + 0.25 * size
    return config, float(difficulty)


# Knob indices: roles (speaker, split), landmarks (2, 3, 4), noise (0, .1, .2), extra listeners
# (a split's second informed agent is not one: 0..2), size (6, 7, 8); a split needs 3+ landmarks.
_TASK_KNOBS = [
    (r, lm, nz, ls, sz)
    for r in range(2)
    for lm in range(3)
    for nz in range(3)
    for ls in range(3)
    for sz in range(3)
    if not (r == 1 and lm == 0) and not (r == 0 and ls == 0)
]


env, parallel_env = scenario_module(Signal)
