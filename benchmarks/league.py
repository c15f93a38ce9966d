"""League speed: matches per second of `arena league` in tag_v0 (default config), from a fresh
ladder to the last commit (each match its own transaction). `python -m benchmarks.league`.

Lines: two scripted players (random and planner, round-robin, both sides), random against
random, and the shipped PPO checkpoints (one per side) against the planner. A warm-up league
first, so numba's kernels are compiled and cached before anything is timed.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from arena.league.league import LeagueSpec, run_league

CKPT = (
    "hunters=assets/checkpoints/tag_v0_hunters.safetensors,"
    "runners=assets/checkpoints/tag_v0_runners.safetensors"
)
LINES = [
    ("planner vs random", {"greedy": "planner", "rand": "random"}),
    ("random vs random", {"a": "random", "b": "random"}),
    ("PPO checkpoints vs planner", {"ppo": CKPT, "greedy": "planner"}),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.league", description=__doc__)
    parser.add_argument("--games", type=int, default=256, help="games per side (default 256)")
    parser.add_argument("--batch", type=int, default=256, help="matches at once (default 256)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per line; the best is shown")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        run_league(
            LeagueSpec("tag_v0", LINES[0][1], games=8, device="cpu"), Path(folder, "warm.sqlite"), False
        )
        print(f"tag_v0, {args.games} games per side, batch {args.batch}: matches/s (best of {args.repeat})")
        for label, players in LINES:
            best = 0.0
            for k in range(args.repeat):
                spec = LeagueSpec("tag_v0", players, games=args.games, batch=args.batch, device="cpu")
                out = run_league(spec, Path(folder, f"{label}-{k}.sqlite"), progress=False)
                best = max(best, out["matches_per_s"])
            print(f"  {label:<28} {best:8.1f} matches/s  ({2 * args.games} matches per run)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
