"""Where every world's randomness comes from: its seed, turned into two streams.

World b of a batch seeded `seed` is seeded `seed + b`, so a PettingZoo env reset with seed s is
world 0 of a batch seeded s. From its seed a world draws its layouts in one of two ways, chosen
by the scenario (`Scenario.layouts`):

* counter-based: the world's 64-bit key, hashed with the number of the episode and the number of
  the draw (splitmix64). The numbers of every world of a batch come from one compiled call, so
  a scenario can lay out 1024 worlds with no Python loop over them, and any world's numbers are
  known without drawing those of the others;
* a generator per world, `np.random.default_rng(seed + b)`, drawn from episode after episode:
  the first scenarios' layouts (their replays and layout checksums predate the keys) and layouts
  of map files. The generators are made the first time a scenario asks for them.

`Seeds` holds the streams of a batch of worlds (and their state, for checkpoints); `Draws` hands
the numbers of one batch of new episodes to `Scenario.layouts`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # splitmix64's increment
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
EPISODE = np.uint64(0xD6E8FEB86659FD93)  # another odd constant: episodes step the key by it
PART = np.uint64(1 << 32)  # draws of part p start 2^32 draws into the stream: parts never overlap
UNIT = 1.0 / 9007199254740992.0  # 2 ** -53


@njit(cache=True)
def splitmix64(x):
    """A well-mixed 64-bit hash of `x` (uint64): the k-th number of a stream keyed `key` is
    splitmix64(key + k * GOLDEN)."""
    z = x + GOLDEN
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def _world_keys(seeds, out):
    for b in range(seeds.shape[0]):
        out[b] = splitmix64(seeds[b])


@njit(cache=True)
def _episode_keys(keys, episodes, idx, out):
    """Each world's key for its next episode, advancing its episode count."""
    for n in range(idx.shape[0]):
        b = idx[n]
        out[n] = splitmix64(keys[b] + episodes[b] * EPISODE)
        episodes[b] += np.uint64(1)


@njit(cache=True)
def _words(keys, first, out):
    """out[n, k] = the (first + k)-th number of the stream keyed keys[n], uint64."""
    for n in range(out.shape[0]):
        for k in range(out.shape[1]):
            out[n, k] = splitmix64(keys[n] + (first + np.uint64(k)) * GOLDEN)


@njit(cache=True)
def _uniform(keys, first, out):
    """Uniform floats in [0, 1) with 53 random bits, from the same streams as `_words`."""
    for n in range(out.shape[0]):
        for k in range(out.shape[1]):
            word = splitmix64(keys[n] + (first + np.uint64(k)) * GOLDEN)
            out[n, k] = np.float64(word >> np.uint64(11)) * UNIT


class Seeds:
    """The random streams of `count` worlds seeded `seed`, `seed + 1`, ... (unseeded: from the
    operating system's entropy): each world's key and count of episodes begun, and its
    generator once a scenario asks for one."""

    def __init__(self, count: int, seed: int | None = None):
        if count < 1:
            raise ValueError(f"Seeds: count must be >= 1, got {count}")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
                raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
            seed = int(seed)
        self.seed = seed
        self.count = count
        if seed is None:
            self.keys = np.random.default_rng().integers(0, 2**64, count, dtype=np.uint64, endpoint=False)
        else:
            first = np.uint64(seed % 2**64)
            self.keys = np.empty(count, np.uint64)
            _world_keys(np.arange(count, dtype=np.uint64) + first, self.keys)
        self.episodes = np.zeros(count, np.uint64)
        self._generators: list[np.random.Generator] | None = None
        self._keys_from_generators = False

    @classmethod
    def of_generators(cls, rngs: Sequence[np.random.Generator]) -> Seeds:
        """Worlds whose streams are the given generators (an older form of `engine.reset`'s
        argument): each world's key is drawn from its generator, once, when a scenario first
        draws keys, so scenarios that lay out world by world see the generators untouched."""
        seeds = cls(len(rngs), 0)
        seeds._generators = list(rngs)
        seeds._keys_from_generators = True
        return seeds

    def draws(self, idx: np.ndarray | None = None) -> Draws:
        """The numbers of a new episode in each of the worlds `idx` (default: all)."""
        idx = np.arange(self.count) if idx is None else np.asarray(idx, dtype=np.int64).reshape(-1)
        return Draws(self, idx)

    def generators(self, idx: np.ndarray) -> list[np.random.Generator]:
        """The generators of the worlds `idx`, made on first use for all the worlds."""
        if self._generators is None:
            if self.seed is None:
                self._generators = [np.random.default_rng() for _ in range(self.count)]
            else:
                self._generators = [np.random.default_rng(self.seed + b) for b in range(self.count)]
        return [self._generators[b] for b in np.asarray(idx).tolist()]

    def episode_keys(self, idx: np.ndarray) -> np.ndarray:
        """uint64[len(idx)]: the key of each world's next episode (and one more episode begun)."""
        if self._keys_from_generators:
            self._keys_from_generators = False
            drawn = [int(rng.integers(0, 2**64, dtype=np.uint64)) for rng in self._generators]
            self.keys = np.array(drawn, dtype=np.uint64)
        out = np.empty(len(idx), np.uint64)
        _episode_keys(self.keys, self.episodes, np.asarray(idx, dtype=np.int64), out)
        return out

    # -- checkpoints ---------------------------------------------------------------------------
    def state(self) -> list[dict]:
        """Each world's streams as plain JSON values: key, episodes begun, generator state (None
        while no generator was made)."""
        rngs = self._generators or [None] * self.count
        return [
            {"key": int(k), "episode": int(e), "rng": None if rng is None else rng.bit_generator.state}
            for k, e, rng in zip(self.keys.tolist(), self.episodes.tolist(), rngs, strict=True)
        ]

    def set_state(self, worlds: list[dict]) -> None:
        """Restore `state()`. An entry that is a bare generator state (run checkpoints written
        before the keys) restores the generator alone. Raises on anything else."""
        if len(worlds) != self.count:
            raise ValueError(f"Seeds: {len(worlds)} world states for {self.count} worlds")
        self.generators(np.arange(self.count))
        for b, entry in enumerate(worlds):
            if "bit_generator" in entry:
                self._generators[b].bit_generator.state = entry
                continue
            self.keys[b] = np.uint64(_whole(entry["key"], 2**64))
            self.episodes[b] = np.uint64(_whole(entry["episode"], 2**63))
            if entry["rng"] is not None:
                self._generators[b].bit_generator.state = entry["rng"]


def _whole(value, bound: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < bound:
        raise ValueError(f"expected a whole number in [0, {bound}), got {value!r}")
    return value


class Draws:
    """The random numbers of a batch of K new episodes, for `Scenario.layouts`: counter-based
    (`uniform`, `words`: one row per episode, all rows in one compiled call) or each world's
    own generator (`rngs`, for layouts drawn world by world). Episode keys are made on the first
    counter-based draw, so a scenario that only uses the generators leaves the keys alone."""

    def __init__(self, seeds: Seeds, idx: np.ndarray):
        self._seeds, self.idx = seeds, idx
        self._keys: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.idx)

    @property
    def keys(self) -> np.ndarray:
        """uint64[K]: each new episode's key."""
        if self._keys is None:
            self._keys = self._seeds.episode_keys(self.idx)
        return self._keys

    def uniform(self, count: int, part: int = 0) -> np.ndarray:
        """float64[K, count] in [0, 1): draws 0..count-1 of `part` of each episode's stream."""
        out = np.empty((len(self), count), np.float64)
        _uniform(self.keys, np.uint64(part) * PART, out)
        return out

    def words(self, count: int, part: int = 0) -> np.ndarray:
        """uint64[K, count]: raw 64-bit draws of `part` of each episode's stream."""
        out = np.empty((len(self), count), np.uint64)
        _words(self.keys, np.uint64(part) * PART, out)
        return out

    def rngs(self) -> list[np.random.Generator]:
        """The worlds' own generators, one per new episode."""
        return self._seeds.generators(self.idx)
