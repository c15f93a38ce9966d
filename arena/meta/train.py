"""`arena meta train FAMILY --method reptile|multitask|rl2`: meta-train over the family's train
tasks. A run folder (`--out`, default runs/meta/FAMILY-METHOD) holds `learner.safetensors` (a
plain checkpoint: `arena watch --seat agents=PATH` plays it), `meta.json` (what `arena meta
eval` reads: method, family, steps, settings, config overrides), `log.jsonl`/`log.csv` (one
line a round: env steps, the inner loops' training success, epsilon) and `training.png`.

`--method rl2` hands the family to `arena.meta.rl2.train_rl2` (the recurrent in-context
learner), imported only then.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from agents.checkpoint import save_controller
from arena.episode import write_atomic
from arena.meta.reptile import META_DEFAULTS, check_settings, round_steps, train_multitask, train_reptile
from arena.meta.tasks import Practice
from arena.training.logbook import Logbook, Progress, read_records
from arena.training.loop import seat_seed

METHODS = ("reptile", "multitask", "rl2")
META_FILE = "meta.json"
CHECKPOINT = "learner.safetensors"


def meta_train(
    family: str,
    method: str,
    steps: int,
    out: str | Path,
    *,
    seed: int = 0,
    algo: str = "ppo",
    hyper: dict | None = None,
    worlds: int = 8,
    config: dict | None = None,
    device: str = "auto",
    quiet: bool = False,
) -> dict:
    """Train, save and describe one meta-learner; returns what `meta.json` holds."""
    if method not in METHODS:
        raise ValueError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if steps < 1 or worlds < 1:
        raise ValueError(f"--steps and --worlds must be >= 1, got {steps} and {worlds}")
    out = Path(out)
    if (out / META_FILE).exists():
        raise ValueError(f"{out} already holds a meta-training run ({out / META_FILE}); pick another --out")
    clock = time.perf_counter()
    if method == "rl2":
        meta = _train_rl2(family, steps, out, seed, dict(hyper or {}), worlds, config, quiet)
    else:
        meta = _train_weights(family, method, steps, out, seed, algo, dict(hyper or {}), worlds, config or {},
                              device, quiet)  # fmt: skip
    meta["seconds"] = round(time.perf_counter() - clock, 1)
    text = json.dumps(meta, indent=2) + "\n"
    write_atomic(out / META_FILE, lambda tmp: Path(tmp).write_text(text))
    return meta


def _train_weights(family, method, steps, out, seed, algo, hyper, worlds, config, device, quiet) -> dict:
    """Reptile or the multi-task learner: a policy-gradient learner's net."""
    import torch

    settings = check_settings({k: hyper.pop(k) for k in list(hyper) if k in META_DEFAULTS})
    practice = Practice(family, algo, hyper, config, worlds, seed, device)
    torch.manual_seed(seed)
    learner = practice.new_learner(next(practice.stream("train")), seat_seed(seed, 0))
    per_round = round_steps(practice, learner, settings)
    total = max(1, -(-steps // per_round)) * per_round
    log = Logbook(out, tensorboard=False)
    progress = Progress(total, 0, quiet=quiet, label=f"{method} {family}")

    def record(r: int, step: int, row: dict) -> None:
        log.write({"kind": "train", "round": r, "step": step} | row)
        progress.show(step, row, row["seconds"])

    train = train_reptile if method == "reptile" else train_multitask
    try:
        train(practice, learner, practice.stream("train"), steps, settings, record)
    finally:
        progress.close()
        log.write_csv()
        log.close()
    learner.tasks = []  # the inner loops' task labels: thousands, and no use to a checkpoint
    save_controller(learner, out / CHECKPOINT)
    from arena.meta.plots import plot_training

    plot_training(
        read_records(out / "log.jsonl"), out / "training.png", f"{method} on {family} (train tasks)"
    )
    return {
        "method": method, "family": family, "algo": algo, "steps": total, "seed": seed, "worlds": worlds,
        "config": config, "hyper": learner.hyper, "settings": settings, "checkpoint": CHECKPOINT,
    }  # fmt: skip


def _train_rl2(family, steps, out, seed, hyper, worlds, config, quiet) -> dict:
    rl2 = load_rl2()
    if config:
        raise ValueError("--method rl2 takes no --config (its tasks are the family's as drawn)")
    trials = int(hyper.pop("trials", 3))
    out.mkdir(parents=True, exist_ok=True)
    log = (lambda *args, **kwargs: None) if quiet else print
    path = Path(rl2.train_rl2(family, steps, out, seed=seed, trials=trials, worlds=worlds, hp=hyper, log=log))
    try:
        checkpoint = str(path.resolve().relative_to(out.resolve()))
    except ValueError:  # written outside the run folder
        checkpoint = str(path.resolve())
    return {
        "method": "rl2", "family": family, "steps": steps, "seed": seed, "worlds": worlds, "config": {},
        "hyper": hyper, "settings": {"trials": trials}, "checkpoint": checkpoint,
    }  # fmt: skip


def load_rl2():
    """`arena.meta.rl2` (train_rl2, adapt_rl2), or one clear line when it is not there."""
    import importlib

    try:
        rl2 = importlib.import_module("arena.meta.rl2")  # train_rl2, adapt_rl2
    except ModuleNotFoundError as err:
        if err.name != "arena.meta.rl2":
            raise
        raise ValueError(
            "--method rl2 needs arena/meta/rl2.py (the RL^2 learner), which this Grid Arena does not have"
        ) from None
    return rl2
