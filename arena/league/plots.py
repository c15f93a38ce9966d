"""The ladder's PNGs: the head-to-head win-rate matrix and every player's rating over time
(mu with a band of +-3 sigma). matplotlib (Agg backend) is imported only when drawing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from arena.training.plots import _pyplot, _save


def head_to_head_png(
    players: list[str], rates: list[list], played: list[list[int]], title: str, path
) -> Path:
    plt = _pyplot()
    n = len(players)
    grid = np.array([[np.nan if v is None else v for v in row] for row in rates], dtype=float).reshape(n, n)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * n, 1.0 + 0.8 * n))
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}\n({played[i][j]})", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(n), players, rotation=45, ha="right")
    ax.set_yticks(range(n), players)
    ax.set_xlabel("opponent")
    ax.set_ylabel("player: win rate (games)")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)


def rating_history_png(history: dict[str, list[tuple[int, float, float]]], title: str, path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, points in sorted(history.items()):
        x, mu, sigma = (np.array(v, dtype=float) for v in zip(*points, strict=True))
        (line,) = ax.plot(x, mu, label=name)
        ax.fill_between(x, mu - 3 * sigma, mu + 3 * sigma, color=line.get_color(), alpha=0.12)
    ax.set_xlabel("match")
    ax.set_ylabel("rating mu (band: +-3 sigma)")
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=4, fontsize=8)
    return _save(fig, path)
