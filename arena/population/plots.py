"""The population's PNG: every member's score and hyper-parameters against env steps.

One panel of scores (success, or ladder rating) and one per searched hyper-parameter, a line
per member. A line takes the colour of its lineage: the first member its weights descend from,
so after a copy it takes its source's colour and joins its source's point (an `x` marks the
score it gave up). matplotlib (Agg) is imported when drawing.
"""

from __future__ import annotations

from pathlib import Path

from arena.training.plots import _pyplot, _save


def plot_population(
    records: list[dict], lineage: list[dict], space: dict, path: str | Path, title: str
) -> Path:
    plt = _pyplot()
    evals = [r for r in records if r.get("kind") == "eval"]
    members = sorted({r["member"] for r in evals} | {e["member"] for e in lineage}, key=_order)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color = {name: colors[k % len(colors)] for k, name in enumerate(members)}
    copies = {(e["member"], e["step"]): e for e in lineage if e.get("kind") == "exploit"}
    keys = sorted(space)
    columns = max(1, len(keys))
    fig = plt.figure(figsize=(max(9.0, 3.3 * columns), 7.2))
    grid = fig.add_gridspec(2, columns, height_ratios=(1.5, 1))
    score_ax = fig.add_subplot(grid[0, :])
    hyper_axes = [fig.add_subplot(grid[1, k]) for k in range(len(keys))]
    for name in members:
        own = sorted((r for r in evals if r["member"] == name), key=lambda r: r["step"])
        for before, after in zip(own, own[1:], strict=False):
            copy = copies.get((name, before["step"]))
            start = copy["from_score"] if copy else before["score"]
            score_ax.plot(
                [before["step"], after["step"]], [start, after["score"]], color=color[after["root"]]
            )
            if copy:
                score_ax.plot(before["step"], before["score"], "x", color=color[before["root"]], ms=6)
        if own:
            score_ax.plot(own[0]["step"], own[0]["score"], "o", color=color[own[0]["root"]], ms=3)
        for ax, key in zip(hyper_axes, keys, strict=True):
            points = [(r["step"], r[f"hp/{key}"], r["root"]) for r in own if f"hp/{key}" in r]
            before = [(0, None)] + [(step, value) for step, value, _ in points[:-1]]
            for (start, old), (step, value, root) in zip(before, points, strict=True):
                # the value used in (start, step], joined to the one before it
                ax.plot([start, start, step], [old if old is not None else value, value, value],
                        color=color[root], lw=1.2)  # fmt: skip
    what = "rating (mu - 3 sigma)" if any("rating" in r for r in evals) else "success rate"
    score_ax.set_ylabel(what)
    score_ax.set_xlim(left=0)
    if what == "success rate":
        score_ax.set_ylim(-0.03, 1.03)
    for ax, key in zip(hyper_axes, keys, strict=True):
        if getattr(space[key], "log", False):
            ax.set_yscale("log")
        ax.set_title(key, fontsize=9)
    for ax in [score_ax, *hyper_axes]:
        ax.set_xlabel("env steps per member")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=color[n], label=f"lineage of {n}") for n in members]
    handles.append(plt.Line2D([], [], color="gray", marker="x", ls="", label="score before a copy"))
    score_ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(title)
    fig.subplots_adjust(hspace=0.35, wspace=0.35, top=0.93)  # cheaper than tight_layout; the save trims
    return _save(fig, path)


def _order(name: str):
    """m2 before m10."""
    digits = name.lstrip("m")
    return (0, int(digits)) if digits.isdigit() else (1, name)
