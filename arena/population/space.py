"""The hyper-parameters a population searches: their ranges, the first draw, and explore.

Each member of a population starts with hyper-parameters drawn from `RANGES` (log-uniform where
the range spans orders of magnitude). When a member copies a stronger one (exploit), it takes
that member's hyper-parameters and explores around them, as in PBT (Jaderberg et al. 2017) and
Ray Tune's `PopulationBasedTraining`: each searched value is, with `resample_chance`, drawn
afresh from its range, else multiplied by 0.8 or 1.2 (either, equally likely) and kept inside
its range.

`--hp KEY=VALUE` fixes a hyper-parameter for every member (it is then not searched);
`--hp KEY=LOW:HIGH` searches it in that range instead of the default one (any hyper-parameter
of the learner that takes a number).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from worlds.errors import ConfigError

PBT_ALGOS = ("ppo", "a2c", "reinforce")  # the policy-gradient learners (agents/policy_gradient.py)
FACTORS = (0.8, 1.2)  # explore: PBT's perturbation of a copied value


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False  # drawn log-uniformly (a range over orders of magnitude)

    def draw(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def clip(self, value: float) -> float:
        return float(min(max(value, self.low), self.high))

    def to_json(self) -> list:
        return [self.low, self.high, self.log]


# Searched by default, per learner. The defaults of agents/policy_gradient.py lie inside.
RANGES: dict[str, dict[str, Range]] = {
    "ppo": {
        "lr": Range(1e-4, 1e-2, log=True),
        "ent_coef": Range(1e-4, 0.1, log=True),
        "vf_coef": Range(0.25, 1.0),
        "clip": Range(0.1, 0.3),
    },
    "a2c": {
        "lr": Range(1e-4, 1e-2, log=True),
        "ent_coef": Range(1e-4, 0.1, log=True),
        "vf_coef": Range(0.25, 1.0),
    },
    "reinforce": {
        "lr": Range(1e-4, 1e-2, log=True),
        "ent_coef": Range(1e-4, 0.1, log=True),
        "vf_coef": Range(0.25, 1.0),
    },
}


def search_space(algo: str, hyper: dict) -> tuple[dict[str, Range], dict]:
    """(searched ranges, fixed hyper-parameters) for `algo` given `--hp`: a value fixes its
    key (`SEAT.KEY`: for that seat), a `LOW:HIGH` string searches it in that range
    (log-uniform when HIGH/LOW >= 100)."""
    if algo not in RANGES:
        raise ConfigError(f"--population trains {'|'.join(PBT_ALGOS)} learners, got {algo!r}")
    space = dict(RANGES[algo])
    fixed = {}
    for key, value in hyper.items():
        if isinstance(value, str) and ":" in value:
            if "." in key:
                raise ConfigError(
                    f"--hp {key}={value}: a searched range is for every seat (--hp KEY=LOW:HIGH)"
                )
            space[key] = parse_range(key, value)
        else:
            fixed[key] = value  # SEAT.KEY fixes it for that seat only: the others still search it
            space.pop(key, None)
    return space, fixed


def parse_range(key: str, text: str) -> Range:
    low_text, _, high_text = text.partition(":")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise ConfigError(f"--hp {key}={text}: a searched range is LOW:HIGH, two numbers") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ConfigError(f"--hp {key}={text}: LOW must be below HIGH, both finite")
    log = low > 0 and high / low >= 100
    return Range(low, high, log)


def sample(space: dict[str, Range], rng: np.random.Generator) -> dict[str, float]:
    """A member's first hyper-parameters: each drawn from its range, in name order."""
    return {key: space[key].draw(rng) for key in sorted(space)}


def explore(
    hyper: dict[str, float], space: dict[str, Range], rng: np.random.Generator, resample_chance: float
) -> tuple[dict[str, float], dict[str, str]]:
    """Copied hyper-parameters explored: (new values, how each changed: `x0.8`, `x1.2` or
    `resampled`). Every searched key draws the same numbers whatever it does, in name order,
    so the generator's stream does not depend on the values."""
    new, how = {}, {}
    for key in sorted(space):
        resample, factor = rng.random() < resample_chance, FACTORS[int(rng.integers(2))]
        fresh = space[key].draw(rng)
        if resample:
            new[key], how[key] = fresh, "resampled"
        else:
            new[key], how[key] = space[key].clip(hyper[key] * factor), f"x{factor}"
    return new, how


def check_share(name: str, value, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
        raise ConfigError(f"{name} must be a number in [0, {high}], got {value!r}")
    return float(value)
