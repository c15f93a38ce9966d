"""PNG figures of training runs: learning curves from a run's log records, and the
continual-learning matrix R[i, j] as a heatmap. matplotlib is imported inside each function
(with the Agg backend: no display needed), so importing this module costs nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from arena.episode import write_atomic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    plt = _pyplot()
    try:
        # bbox "tight": legends placed below the panels are kept in the picture
        return write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    finally:
        plt.close(fig)


def _series(records: list[dict], kind: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [(r["step"], r[key]) for r in records if r.get("kind") == kind and r.get(key) is not None]
    rows = [(s, v) for s, v in rows if v == v]  # drop nan (no episode finished yet)
    if not rows:
        return np.zeros(0), np.zeros(0)
    steps, values = zip(*rows, strict=True)
    return np.asarray(steps), np.asarray(values, dtype=float)


def plot_curves(
    records: list[dict], path: str | Path, title: str = "", boundaries: list[tuple[int, str]] = ()
) -> Path:
    """Three panels against env steps: return per seat, success rate, episode length (lines:
    training, over recent episodes that all ran to their end; dots and a band: evaluations
    with +-1 standard error, where the records carry `KEY_se`). Keys `NAME/success` and
    `NAME/length` (a curriculum's tasks) get lines of their own, as `NAME/return` does.
    `boundaries` (step, label) draw where a curriculum's tasks begin."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes, ("return", "success", "length"), strict=True):
        # "success" itself, and any "NAME/success" (a seat's return, a curriculum task's success)
        keys = sorted({k for r in records for k in r if k == metric or k.endswith(f"/{metric}")})
        for k, key in enumerate(keys):
            name = key.removesuffix(f"/{metric}") if key != metric else ""
            color = colors[k % len(colors)]
            train, evals = _series(records, "train", key), _series(records, "eval", key)
            ax.plot(*train, color=color, alpha=0.6, label=f"{name} (train)" if name else "train")
            if len(evals[0]):
                eval_color = colors[(k + 1) % len(colors)] if not name else color
                ax.plot(*evals, "o--", color=eval_color, ms=4,
                        label=f"{name} (eval +-1 s.e.)" if name else "eval +-1 s.e.")  # fmt: skip
                steps, se = _series(records, "eval", f"{key}_se")
                if len(se) == len(evals[1]):
                    ax.fill_between(steps, evals[1] - se, evals[1] + se, color=eval_color, alpha=0.2, lw=0)
    axes[1].set_ylim(-0.03, 1.03)
    for ax, name in zip(axes, ("return", "success rate", "episode length"), strict=True):
        for step, label in boundaries:
            ax.axvline(step, color="gray", lw=0.8, ls=":")
            ax.text(  # the scenario's name: a task's settings are in the legend
                step, 1.0, f" {label.split(':')[0]}", transform=ax.get_xaxis_transform(), fontsize=7,
                va="top", color="gray",
            )  # fmt: skip
        ax.set_xlabel("env steps")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if ax.lines:  # below the panel: long task labels would cover the lines
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_matrix(
    matrix,
    tasks: list[str],
    path: str | Path,
    title: str = "",
    baseline=None,
    label: str = "success",
    row_labels: list[str] | None = None,
) -> Path:
    """The heatmap of R[i, j] (rows: after training on task i; columns: evaluated on task j),
    each cell written out; `baseline` (the untrained learner) as an extra first row."""
    plt = _pyplot()
    matrix = np.asarray(matrix, dtype=float)
    # Columns carry the full labels, one setting a line; rows name the column they trained on.
    number = {t: f"{j + 1}. " for j, t in enumerate(tasks)}
    rows = [f"after {number.get(t, '')}{t.split(':')[0]}" for t in (row_labels or tasks)[: len(matrix)]]
    columns = [f"{j + 1}. {t.replace(':', chr(10))}" for j, t in enumerate(tasks)]
    lines = max(c.count(chr(10)) + 1 for c in columns)
    if baseline is not None:
        matrix = np.vstack([np.asarray(baseline, dtype=float)[None], matrix])
        rows = ["untrained", *rows]
    fig, ax = plt.subplots(figsize=(2.2 + 1.8 * len(tasks), 1.2 + 0.7 * len(rows) + 0.18 * lines))
    low, high = (0.0, 1.0) if label == "success" else (np.nanmin(matrix), np.nanmax(matrix))
    image = ax.imshow(matrix, cmap="viridis", vmin=low, vmax=high if high > low else low + 1)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            value = matrix[i, j]
            bright = (value - low) / ((high - low) or 1) > 0.6
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="black" if bright else "white")
    ax.set_xticks(range(len(tasks)), columns, fontsize=8)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel(f"evaluated on ({label})")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_stages(results: dict, tasks: list[str], path: str | Path, title: str = "") -> Path:
    """Success on every task after each stage of the curriculum, one panel per method: a line
    per task over (untrained, after task 0, after task 1, ...); the joint baseline, which has
    a single stage, as dashed levels in every panel."""
    plt = _pyplot()
    sequential = [m for m in results if m != "joint"] or list(results)
    fig, axes = plt.subplots(1, len(sequential), figsize=(4.5 * len(sequential), 3.8), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    # Ticks name the stage by number and scenario; the legend gives each task's full label.
    stages = ["untrained", *(f"after {j + 1}. {t.split(':')[0]}" for j, t in enumerate(tasks))]
    for ax, method in zip(axes[0], sequential, strict=True):
        result = results[method]
        rows = np.vstack([result["baseline_success"], *result["R_success"]])
        for j, task in enumerate(tasks):
            color = colors[j % len(colors)]
            ax.plot(range(len(rows)), rows[:, j], "o-", color=color, label=f"{j + 1}. {task}")
            if "joint" in results and method != "joint":
                level = results["joint"]["R_success"][-1][j]
                ax.axhline(level, color=colors[j % len(colors)], ls="--", lw=0.8)
        ax.set_xticks(range(len(rows)), stages[: len(rows)] if method != "joint" else ["untrained", "joint"],
                      rotation=20, ha="right", fontsize=8)  # fmt: skip
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(method)
        ax.set_ylabel("success rate")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    fig.suptitle(title or "success on each task after each stage\n(dashed: joint training)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
