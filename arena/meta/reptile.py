"""Reptile (Nichol, Achiam & Schulman 2018), first-order meta-learning, and the multi-task
learner it is measured against, on the same tasks and the same env steps.

Reptile keeps meta weights theta. Each round draws `meta_batch` tasks from the family's train
stream; on each, the learner starts from theta with a fresh optimizer and makes
`inner_updates` policy-gradient updates (`inner_updates * rollout * worlds` env steps), ending
at theta'_i; then

    theta <- theta + epsilon * (mean_i theta'_i - theta)

with epsilon = `meta_lr`, annealed linearly to 0 over the rounds when `anneal` is on. The
multi-task learner plays the same rounds' tasks together (the joint training of
`arena.training.joint`: every task's worlds step at once and the learner learns from all their
rows), for as many env steps, with one optimizer throughout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from arena.meta.tasks import FamilyTask, Practice, fresh_optimizer, set_weights, weights
from arena.training.joint import joint_step, mean_of
from arena.training.loop import seat_seed

META_DEFAULTS = {
    "inner_updates": 4,  # policy-gradient updates per task in a round
    "meta_batch": 2,  # tasks per round
    "meta_lr": 1.0,  # Reptile's outer step epsilon
    "anneal": True,  # epsilon falls linearly to 0 over the rounds
}


def reptile_step(meta: dict, adapted: list[dict], epsilon: float) -> dict:
    """theta + epsilon * (mean_i theta'_i - theta), tensor by tensor."""
    out = {}
    for key, theta in meta.items():
        target = torch.stack([a[key] for a in adapted]).mean(0)
        out[key] = theta + epsilon * (target - theta)
    return out


def round_steps(practice: Practice, learner, settings: dict) -> int:
    """Env steps of one round: every task's inner loop (the multi-task learner: as many)."""
    return settings["meta_batch"] * settings["inner_updates"] * learner.hyper["rollout"] * practice.worlds


def train_reptile(
    practice: Practice, learner, stream: Iterator[FamilyTask], steps: int, settings: dict, record: Callable
) -> None:
    """Meta-train `learner`'s net in place for `steps` env steps (whole rounds, at least one);
    `record(round, step, row)` gets each round's summary."""
    per_round = round_steps(practice, learner, settings)
    rounds = max(1, -(-steps // per_round))
    inner = settings["inner_updates"] * learner.hyper["rollout"] * practice.worlds
    meta = weights(learner)
    clock = time.perf_counter()
    for r in range(rounds):
        epsilon = settings["meta_lr"] * ((1 - r / rounds) if settings["anneal"] else 1.0)
        adapted, rows = [], []
        for i in range(settings["meta_batch"]):
            task = next(stream)
            set_weights(learner, meta)
            fresh_optimizer(learner, seat_seed(practice.seed, 10_000 + 100 * r + i))
            rows.append(practice.train(learner, task, inner, seed=practice.seed + 1000 * r + i))
            adapted.append(weights(learner))
        meta = reptile_step(meta, adapted, epsilon)
        record(r, (r + 1) * per_round, {
            "epsilon": epsilon, "success": mean_of(rows, "success"), "seconds": time.perf_counter() - clock,
        })  # fmt: skip
    set_weights(learner, meta)
    fresh_optimizer(learner)


def train_multitask(
    practice: Practice, learner, stream: Iterator[FamilyTask], steps: int, settings: dict, record: Callable
) -> None:
    """The same rounds' tasks, trained together by one learner for as many env steps."""
    per_round = round_steps(practice, learner, settings)
    rounds = max(1, -(-steps // per_round))
    iterations = settings["inner_updates"] * learner.hyper["rollout"]
    clock = time.perf_counter()
    for r in range(rounds):
        tasks = [next(stream) for _ in range(settings["meta_batch"])]
        loops = [practice.loop(learner, t, seed=practice.seed + 1000 * r + i) for i, t in enumerate(tasks)]
        for _ in range(iterations):
            joint_step(loops, learner)
        learner.end_task(f"round {r}")
        rows = [loop.stats.summary() for loop in loops]
        record(
            r,
            (r + 1) * per_round,
            {"success": mean_of(rows, "success"), "seconds": time.perf_counter() - clock},
        )


def check_settings(given: dict) -> dict:
    """The method's settings from `--hp` (their keys only), checked; defaults filled in."""
    out = dict(META_DEFAULTS)
    for key in META_DEFAULTS.keys() & given.keys():
        value, default = given[key], META_DEFAULTS[key]
        if isinstance(default, bool) != isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"--hp {key}={value!r} should be like the default {default!r}")
        out[key] = value
    for key in ("inner_updates", "meta_batch"):
        if float(out[key]) != int(out[key]) or out[key] < 1:
            raise ValueError(f"--hp {key} must be a whole number >= 1, got {out[key]}")
        out[key] = int(out[key])
    if not np.isfinite(out["meta_lr"]) or not 0 < out["meta_lr"] <= 1:
        raise ValueError(f"--hp meta_lr must be in (0, 1], got {out['meta_lr']}")
    return out
