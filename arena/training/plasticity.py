"""Plasticity over a long curriculum: how fast each new task is learned as the sequence goes on,
the remedies as curriculum methods, and the Continual World metrics.

Methods of `--continual` beside none/replay/ewc/joint (`arena.training.curriculum`):

- `shrink_perturb`: before each task after the first, every weight w <- sp_shrink * w +
  sp_noise * N(0, 1) (Ash & Adams 2020);
- `l2_init`: the loss gains l2_init * sum (w - w0)^2 towards the weights the learner started
  with (Kumar et al. 2023);
- `reset`: before each task after the first, the last `reset_layers` levels of the net (1: the
  policy and value heads) are re-initialized, their optimizer state dropped (Nikishin et al.
  2022);
- `scratch`: a new learner for every task, the reference of full plasticity (and of Continual
  World's forward transfer).

Their settings come with `--hp` (`agents.plasticity.PLASTICITY_DEFAULTS`). Learning speed per
task is read from the training log: the success rate over the last finished episodes of the
task's own worlds, at each log line. `auc[i]` is its mean over the task's log lines (nan, no
episode finished yet, counts 0), in [0, 1]; `steps_to[i]` the env steps into the task when it
first reached `THRESHOLD` (None: never). `speed_ratio` = mean auc of the last quarter of the
tasks / mean auc of the first quarter (1: as fast at the end as at the start).

Continual World (Wolczyk et al. 2021): average performance = mean_j R[T-1, j] (ACC);
forgetting = mean_{j<T-1} (R[j, j] - R[T-1, j]); forward transfer = mean_i (auc_i - ref_i) /
(1 - ref_i), ref the `scratch` method's auc on the same task (None without it in the same call).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agents.plasticity import (
    PLASTICITY_DEFAULTS,
    L2Init,
    check_plasticity,
    reset_last_layers,
    shrink_perturb,
)

REMEDIES = ("shrink_perturb", "l2_init", "reset", "scratch")
THRESHOLD = 0.8  # the training success that counts as "learned" for steps_to


def take_settings(hyper: dict) -> dict:
    """Remove the remedies' keys from a learner's `hyper` (in place) and return them, checked."""
    return check_plasticity({k: hyper.pop(k) for k in list(hyper) if k in PLASTICITY_DEFAULTS})


class Remedy:
    """One method's acts on the learner: at the start, and before every task after the first.
    `fresh(k)` builds a new learner (the k-th fresh one) like the curriculum's first."""

    def __init__(self, method: str, settings: dict, fresh: Callable[[int], object], seed: int = 0):
        self.method, self.settings, self.fresh = method, settings, fresh
        import torch

        self.generator = torch.Generator().manual_seed(seed)

    def start(self, learner) -> None:
        if self.method in REMEDIES and self.method != "scratch":
            _check_learner(learner, self.method)
        if self.method == "l2_init":
            L2Init(learner.net, self.settings["l2_init"]).attach(learner.optimizer)

    def before_task(self, i: int, learner):
        """The learner that trains on task i (> 0): the same one, changed, or a new one."""
        s = self.settings
        if self.method == "shrink_perturb":
            shrink_perturb(learner.net, s["sp_shrink"], s["sp_noise"], self.generator)
        elif self.method == "reset":
            reset_last_layers(learner.net, s["reset_layers"], self.fresh(i).net, learner.optimizer)
        elif self.method == "scratch":
            return self.fresh(i)
        return learner


def _check_learner(learner, method: str) -> None:
    if not hasattr(learner, "net") or not hasattr(learner, "optimizer"):
        raise ValueError(
            f"--continual {method}: needs a learner with a torch net (ppo, a2c, reinforce, dqn), "
            f"not {getattr(learner, 'name', type(learner).__name__)}"
        )


def learning_speed(records: list[dict], labels: list[str], threshold: float = THRESHOLD) -> dict:
    """Per task (in `labels` order): auc and steps_to, read from a curriculum's log records."""
    starts = {r["task"]: r["step"] for r in records if r.get("kind") == "task"}
    auc, steps_to = [], []
    for label in labels:
        rows = [r for r in records if r.get("kind") == "train" and r.get("task") == label]
        success = [0.0 if r.get("success") is None else float(r["success"]) for r in rows]
        auc.append(float(np.mean(success)) if success else None)
        start = starts.get(label, 0)
        reached = [r["step"] - start for r, s in zip(rows, success, strict=True) if s >= threshold]
        steps_to.append(reached[0] if reached else None)
    return {"auc": auc, "steps_to": steps_to, "threshold": threshold, "speed_ratio": speed_ratio(auc)}


def speed_ratio(auc: list[float | None]) -> float | None:
    """Mean auc of the last quarter of the tasks over that of the first quarter (at least one
    task each); None with fewer than 2 tasks or a first quarter that learned nothing."""
    if len(auc) < 2 or any(a is None for a in auc):
        return None
    k = max(1, len(auc) // 4)
    first, last = float(np.mean(auc[:k])), float(np.mean(auc[-k:]))
    return last / first if first > 0 else None


def continual_world(R, auc: list[float | None] | None = None, reference: list[float | None] | None = None):
    """Average performance, forgetting and forward transfer as Continual World defines them."""
    R = np.asarray(R, dtype=float)
    out = {"average_performance": float(R[-1].mean()), "forgetting": None, "forward_transfer": None}
    if len(R) > 1:
        out["forgetting"] = float(np.mean(np.diag(R)[:-1] - R[-1, :-1]))
    if auc is not None and reference is not None and None not in auc and None not in reference:
        transfer = [(a - r) / (1 - r) if r < 1 else 0.0 for a, r in zip(auc, reference, strict=True)]
        out["forward_transfer"] = float(np.mean(transfer))
    return out


def format_speed(summary: dict) -> str:
    """Lines of the plasticity table: per method, auc of each task and the speed ratio."""
    rows = {m: r["plasticity"] for m, r in summary["methods"].items() if "plasticity" in r}
    if not rows:
        return ""
    lines = ["\nlearning speed (auc of each task's training success, in order; ratio: last/first quarter)"]
    for method, p in rows.items():
        ratio = "-" if p["speed_ratio"] is None else f"{p['speed_ratio']:.2f}"
        cw = summary["methods"][method].get("continual_world", {})
        fwt = cw.get("forward_transfer")
        lines.append(
            f"  {method:<15} ratio {ratio:>5}  CW: AP {cw.get('average_performance', 0):.2f} "
            f"F {_num(cw.get('forgetting'))} FT {_num(fwt)}  auc "
            + " ".join("  -  " if a is None else f"{a:.2f}" for a in p["auc"])
        )
    return "\n".join(lines)


def _num(value) -> str:
    return "-" if value is None else f"{value:+.2f}"


def plot_speed(results: dict, path) -> object:
    """Each method's auc per task, in the order of the sequence (the learning speed as it goes)."""
    from arena.training.plots import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    count = 0
    for method, result in results.items():
        if "plasticity" not in result:
            continue
        auc = [np.nan if a is None else a for a in result["plasticity"]["auc"]]
        count = max(count, len(auc))
        ax.plot(range(1, len(auc) + 1), auc, "o-", ms=3, label=method)
    ax.set_xticks(range(1, count + 1))
    ax.set_xlabel("task in the sequence")
    ax.set_ylabel("area under the training success curve")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("learning speed of each new task")
    fig.tight_layout()
    return _save(fig, path)
