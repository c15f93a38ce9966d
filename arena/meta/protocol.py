"""The few-shot evaluation protocol of `arena meta eval`, on held-out tasks only.

Every contender meets the first `tasks` tasks of `worlds.tasks(FAMILY, "test", seed)` (with the
`config` overrides the training used) and nothing else. On each task it is scored (success
rate; see `arena.meta.tasks.Practice.success`) after 0, 1, ..., `shots` fine-tuning rounds of
`round_steps` env steps each:

- `scratch`: a new learner (a seed of its own per task), as its net is built for the others;
- a checkpoint (of `arena meta train`, or any policy-gradient checkpoint of the family): loaded
  afresh for every task, its optimizer's moments forgotten, then fine-tuned the same way;
- an `rl2` run: `arena.meta.rl2.adapt_rl2(checkpoint, task, shots + 1, eval_worlds, seed)`
  gives the success in trials 0..shots (after that many trials of experience), no gradient.

Per contender: the success per task and round, its mean and standard error over tasks, and
`steps_to_target`: the env steps of fine-tuning after which the mean first reaches the target,
the scratch learner's final mean success (None: never; rl2: trials, not env steps). `speedup`
is scratch's own steps_to_target over the contender's (None where either is 0 or None;
`zero_shot`: the contender reached it with no fine-tuning at all).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from arena.meta.tasks import FamilyTask, Practice, fresh_optimizer, held_out_tasks
from arena.meta.train import META_FILE, load_rl2
from arena.training.loop import seat_seed
from worlds.errors import BadFileError

SCRATCH = "scratch"


@dataclass
class Contender:
    name: str  # shown in tables and plots: scratch, reptile, multitask, rl2, or a file's stem
    method: str  # scratch, reptile, multitask, rl2, checkpoint
    checkpoint: Path | None = None
    meta: dict | None = None  # the run's meta.json


def contender(spec: str) -> Contender:
    """`scratch`, a run folder of `arena meta train`, or a checkpoint file (its folder's
    meta.json, when there is one, names the method)."""
    if spec == SCRATCH:
        return Contender(SCRATCH, SCRATCH)
    path = Path(spec)
    folder = path if path.is_dir() else path.parent
    meta = read_meta(folder / META_FILE) if (folder / META_FILE).is_file() else None
    if path.is_dir():
        if meta is None:
            raise ValueError(f"{path}: holds no {META_FILE}; give a checkpoint file or a meta-training run")
        path = folder / meta["checkpoint"]
    if not path.exists():  # a file (an rl2 checkpoint may be a folder: its own module reads it)
        raise ValueError(f"{spec}: no such checkpoint (or `scratch`)")
    method = meta["method"] if meta else "checkpoint"
    return Contender(method if meta else path.stem, method, path, meta)


def read_meta(path: Path) -> dict:
    """A run's meta.json, checked enough that a damaged one fails here with its name."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadFileError(f"{path}: unreadable meta-training description ({err})") from None
    kinds = {"method": str, "family": str, "checkpoint": str, "config": dict}
    if not isinstance(meta, dict) or any(not isinstance(meta.get(k), t) for k, t in kinds.items()):
        raise BadFileError(
            f"{path}: a meta.json needs method, family, checkpoint (text) and config (a table)"
        )
    return meta


def run_protocol(
    contenders: list[Contender], practice: Practice, shots: int, round_steps: int, count: int, seed: int = 0
) -> dict:
    """Every contender on the same held-out tasks; the summary `eval.json` holds."""
    if shots < 0 or round_steps < 1 or count < 1:
        raise ValueError(
            f"--shots >= 0, --round-steps >= 1 and --tasks >= 1, got {shots}, {round_steps}, {count}"
        )
    tasks = held_out_tasks(practice.family, count, seed, practice.config)
    results = {}
    for c in contenders:
        curves = [adapt(c, practice, task, j, shots, round_steps, seed) for j, task in enumerate(tasks)]
        results[c.name] = {"method": c.method, "checkpoint": c.checkpoint and str(c.checkpoint),
                           "meta_steps": (c.meta or {}).get("steps", 0), "success": curves}  # fmt: skip
    summary = {
        "family": practice.family, "split": "test", "seed": seed, "shots": shots, "round_steps": round_steps,
        "eval_worlds": practice.eval_worlds, "config": practice.config,
        "tasks": [{"label": t.label, "seed": t.source.seed, "split": t.split, "config": t.source.config}
                  for t in tasks],
        "contenders": results,
    }  # fmt: skip
    return summarize(summary)


def adapt(
    c: Contender, practice: Practice, task: FamilyTask, j: int, shots: int, steps: int, seed: int
) -> list:
    """The contender's success on one task after 0..shots rounds (trials for rl2)."""
    if c.method == "rl2":
        curve = load_rl2().adapt_rl2(c.checkpoint, task.source, shots + 1, practice.eval_worlds, seed + j)
        curve = [float(v) for v in curve]
        if len(curve) != shots + 1:
            raise ValueError(
                f"{c.checkpoint}: adapt_rl2 gave {len(curve)} trials' success, asked {shots + 1}"
            )
        return curve
    learner = start(c, practice, task, seat_seed(seed, 1 + j))
    curve = [practice.success(learner, task)]
    for r in range(shots):
        practice.train(learner, task, steps, seed=seed + 1000 * j + r)
        curve.append(practice.success(learner, task))
    return curve


def start(c: Contender, practice: Practice, task: FamilyTask, seed: int):
    """The contender's learner as it starts on a task: new, or its checkpoint loaded afresh."""
    if c.method == SCRATCH:
        learner = practice.new_learner(task, seed)
    else:
        from agents.registry import load_controller

        learner = load_controller(c.checkpoint, practice.device, scenario=task.scenario)
        if not hasattr(learner, "net") or not hasattr(learner, "optimizer"):
            raise ValueError(
                f"{c.checkpoint}: fine-tuning needs a policy-gradient checkpoint (ppo, a2c, reinforce)"
            )
    fresh_optimizer(learner, seed)
    return learner


def summarize(summary: dict) -> dict:
    """Means and standard errors over tasks, steps to the scratch learner's final success, speedups."""
    steps = [r * summary["round_steps"] for r in range(summary["shots"] + 1)]
    for result in summary["contenders"].values():
        s = np.asarray(result["success"], dtype=float)
        result["mean"] = s.mean(0).tolist()
        result["se"] = (s.std(0, ddof=1) / np.sqrt(len(s)) if len(s) > 1 else np.zeros(s.shape[1])).tolist()
        result["steps"] = None if result["method"] == "rl2" else steps
    scratch = summary["contenders"].get(SCRATCH)
    summary["target"] = scratch["mean"][-1] if scratch else None
    for result in summary["contenders"].values():
        reached = [
            r
            for r, m in enumerate(result["mean"])
            if summary["target"] is not None and m >= summary["target"]
        ]
        result["rounds_to_target"] = reached[0] if reached else None
        result["steps_to_target"] = None if not reached or result["steps"] is None else steps[reached[0]]
    base = scratch["steps_to_target"] if scratch else None
    for result in summary["contenders"].values():
        own = result["steps_to_target"]
        result["zero_shot"] = own == 0  # reached with no fine-tuning: no finite speedup
        result["speedup"] = None if not base or own is None or own == 0 else base / own
    return summary


def format_table(summary: dict) -> str:
    """One line per contender: mean success (se) after each round, steps to target, speedup."""
    shots = summary["shots"]
    head = ["contender", *(f"{r}" for r in range(shots + 1)), "steps to target", "speedup"]
    body = []
    for name, r in summary["contenders"].items():
        cells = [f"{m:.2f}±{e:.2f}" for m, e in zip(r["mean"], r["se"], strict=True)]
        to = r["steps_to_target"]
        if r["method"] == "rl2":
            to = "-" if r["rounds_to_target"] is None else f"{r['rounds_to_target']} trials"
        speed = "zero-shot" if r["zero_shot"] else "-" if r["speedup"] is None else f"{r['speedup']:.1f}x"
        body.append(
            [name, *cells, "never" if to is None else f"{to:,}" if isinstance(to, int) else to, speed]
        )
    widths = [max(len(row[k]) for row in [head, *body]) for k in range(len(head))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in [head, *body]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    target = "-" if summary["target"] is None else f"{summary['target']:.2f}"
    title = (
        f"{summary['family']}: success on {len(summary['tasks'])} held-out tasks after each fine-tuning "
        f"round ({summary['round_steps']:,} env steps; rl2: trials); target = scratch's final {target}"
    )
    return "\n".join([title, *lines])
