"""Rollout workers: env-steps/s of `arena train` with the worlds stepped in the learner's process
(0) and by 1, 2, ... worker processes (or Ray actors with `--ray`). `python -m benchmarks.workers`.

The rate is the steady one: from the end of the first iteration (workers started, numba's kernels
compiled) to the end of the last but one (the last also evaluates, saves and plots). Runs of each worker count
alternate (`--repeat`), so a change in the machine's load touches them alike; the best is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch

from arena.cluster import add_ray_option
from arena.training.run import Run, TrainConfig


def steady_rate(config: TrainConfig, folder: str, ray_address: str | None) -> float:
    marks: list[tuple[float, int]] = []
    run = Run(config, folder, quiet=True, ray_address=ray_address)
    run.run(lambda r: marks.append((time.perf_counter(), r.step)))
    (t0, s0), (t1, s1) = marks[0], marks[-2]  # the last iteration also evaluates and saves
    return (s1 - s0) / max(t1 - t0, 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__)
    parser.add_argument("--scenario", default="maze_v0")
    parser.add_argument("--seat", action="append", default=[], metavar="NAME=CONTROLLER")
    parser.add_argument("--worlds", type=int, default=64)
    parser.add_argument("--steps", type=int, default=64 * 64 * 8, help="env steps per run")
    parser.add_argument("--workers", default="0,1,2", help="worker counts, comma-separated (0: none)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per worker count; the best is shown")
    add_ray_option(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    teams = dict(item.split("=", 1) for item in args.seat)
    counts = [int(w) for w in args.workers.split(",")]
    best = dict.fromkeys(counts, 0.0)
    with tempfile.TemporaryDirectory() as root:
        for k in range(args.repeat):
            for workers in counts:
                config = TrainConfig(
                    scenario=args.scenario, teams=teams, worlds=args.worlds, steps=args.steps,
                    eval_every=0, checkpoint_every=0, eval_worlds=1, workers=workers,
                )  # fmt: skip
                rate = steady_rate(config, os.path.join(root, f"{workers}-{k}"), args.ray)
                best[workers] = max(best[workers], rate)
    load = os.getloadavg()[0]
    where = "Ray actor" if args.ray else "worker process"
    print(f"{args.scenario} {json.dumps(teams)}, {args.worlds} worlds, {args.steps} env steps", end="")
    print(f" (load average {load:.1f} at the end)")
    for workers, rate in best.items():
        label = f"{workers} x {where}" if workers else "no workers (one process)"
        print(f"  {label:<28} {rate:9.0f} env-steps/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
