"""PNG figures of meta-learning: a meta-training run's rounds, and the adaptation curves of
`arena meta eval` (mean success over the held-out tasks after each fine-tuning round, with a
band of one standard error)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from arena.training.plots import _pyplot, _save


def plot_training(records: list[dict], path: str | Path, title: str = "") -> Path:
    """The inner loops' (Reptile) or the joint tasks' (multi-task) training success per round."""
    plt = _pyplot()
    rows = [r for r in records if r.get("kind") == "train" and r.get("success") is not None]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot([r["step"] for r in rows], [r["success"] for r in rows], "o-", ms=3)
    ax.set_xlabel("env steps")
    ax.set_ylabel("training success (each round's tasks)")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_adaptation(summary: dict, path: str | Path) -> Path:
    """Mean success (and one standard error) after 0..shots rounds, one line per contender."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    rounds = np.arange(summary["shots"] + 1)
    for name, result in summary["contenders"].items():
        mean, se = np.asarray(result["mean"]), np.asarray(result["se"])
        label = f"{name} (trials)" if result["method"] == "rl2" else name
        (line,) = ax.plot(rounds, mean, "o-", ms=4, label=label)
        ax.fill_between(rounds, mean - se, mean + se, color=line.get_color(), alpha=0.2)
    if summary.get("target") is not None:
        ax.axhline(summary["target"], color="gray", ls=":", lw=1, label="scratch's final")
    ax.set_xlabel(f"fine-tuning rounds of {summary['round_steps']:,} env steps (rl2: trials)")
    ax.set_ylabel(f"success on {len(summary['tasks'])} held-out tasks")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xticks(rounds)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{summary['family']}: adaptation on test tasks (mean ± s.e. over tasks)")
    fig.tight_layout()
    return _save(fig, path)
