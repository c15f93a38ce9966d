"""RL^2 benchmark: in-context adaptation on held-out tasks, against a feed-forward learner.

    python -m benchmarks.rl2 --family maze --steps 100000 --hp task.num_agents=1 --hp task.max_cycles=50

Trains (or, with `--skip-training`, reuses) two policies with `arena.meta.rl2.train_rl2` on the
family's train tasks, the same settings but the core: RL^2's GRU (`core=gru`) and a
feed-forward policy with the same inputs (`core=none`: view, previous action and reward, trial
flag, no memory). Then `adapt_rl2` plays each of the first `--tasks` held-out tasks
(`worlds.tasks(family, "test", 0)`) for `--episodes` meta-episodes of `--trials` trials and the
table gives the success after trial 1, 2, 3, ... averaged over tasks, with the mean episode
length of each trial (a policy that remembers where the goal was gets there sooner). A policy that learns in
context does better in later trials; a feed-forward one cannot (up to noise).
"""

from __future__ import annotations

import argparse
import time
from itertools import islice
from pathlib import Path

import numpy as np
import torch

import worlds
from arena.meta.rl2 import adapt_trials, train_rl2
from benchmarks.learners import _pairs


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.rl2", description=__doc__.split("\n")[0])
    p.add_argument("--family", default="maze")
    p.add_argument("--steps", type=int, default=100_000, help="env steps of training, each policy")
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--worlds", type=int, default=16)
    p.add_argument("--tasks", type=int, default=20, help="held-out tasks to adapt on")
    p.add_argument("--episodes", type=int, default=16, help="meta-episodes per held-out task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cores", default="gru,none", help="comma-separated cores to compare")
    p.add_argument("--hp", action="append", metavar="KEY=VALUE", help="RL^2 setting or hyper-parameter")
    p.add_argument("--out", default="runs/rl2_bench")
    p.add_argument("--skip-training", action="store_true", help="reuse the policies in --out")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    hp = _pairs(args.hp)
    tasks = list(islice(worlds.tasks(args.family, "test", 0), args.tasks))
    rows = []
    for core in args.cores.split(","):
        path = Path(args.out) / f"{args.family}_{core}.safetensors"
        start = time.perf_counter()
        if not args.skip_training:
            tag = f"  [{core}]"
            train_rl2(
                args.family, args.steps, path, seed=args.seed, trials=args.trials, worlds=args.worlds,
                hp=hp | {"core": core}, log=lambda line, tag=tag: print(tag, line, flush=True),
            )  # fmt: skip
        trained = time.perf_counter() - start
        per_task = [
            adapt_trials(path, task, args.trials, args.episodes, seed=k) for k, task in enumerate(tasks)
        ]
        success = np.mean([r["success"] for r in per_task], 0)
        length = np.mean([r["length"] for r in per_task], 0)
        rows.append((core, success, length, trained, time.perf_counter() - start - trained))
    print(f"RL^2 on {args.tasks} held-out {args.family} tasks, {args.episodes} meta-episodes each, "
          f"{args.steps:,} training steps, hp {hp}; torch threads {torch.get_num_threads()}")  # fmt: skip
    head = " | ".join(f"trial {k + 1}" for k in range(args.trials))
    print(f"success by trial (mean episode length)\n{'core':6} | {head} | train s | adapt s")
    for core, success, length, trained, adapted in rows:
        cells = " | ".join(f"{s:.3f} ({n:4.1f})" for s, n in zip(success, length, strict=True))
        print(f"{core:6} | {cells} | {trained:7.0f} | {adapted:7.0f}")


if __name__ == "__main__":
    main()
