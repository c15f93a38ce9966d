"""The `arena` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import worlds
from agents.random_agent import RandomAgent
from arena import bench
from arena.episode import play_episode, save_gif, save_png
from arena.options import frame_stride, positive_int
from arena.records import replay
from arena.training import command as train_command
from arena.viewer import watch
from worlds.errors import ArenaError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arena", description="Grid Arena: worlds, agents and the arena.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    add_scenarios_parser(sub)
    bench.add_parser(sub)
    watch.add_parser(sub)
    replay.add_parser(sub)
    train_command.add_parser(sub)
    __import__("arena.lm.commands").lm.commands.add_parser(sub)  # arena lm train|bench|finetune
    __import__("arena.league.cli").league.cli.add_parsers(sub)  # arena league, arena ladder
    __import__("arena.meta.cli").meta.cli.add_parser(sub)  # arena meta train|eval
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (ArenaError, ValueError, OSError) as err:  # OSError: a missing file, a full disk
        print(f"arena {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2


def one_line(err: BaseException) -> str:
    """An error's message on one line (some libraries' messages span several)."""
    if isinstance(err, OSError) and err.filename is not None and not isinstance(err, ArenaError):
        return f"{err.filename}: {err.strerror or err}"
    return " ".join(str(err).split()) or type(err).__name__


def add_run_parser(sub) -> None:
    run = sub.add_parser("run", help="play headless episodes, print results, write a GIF and a PNG")
    run.add_argument("scenario", nargs="?", default="maze_v0", help="scenario name (default maze_v0)")
    run.add_argument("--episodes", type=positive_int, default=3)
    run.add_argument("--seed", type=int, default=0, help="episode k uses seed + k")
    run.add_argument("--out", default="out", help="folder for the GIF and PNG (default ./out)")
    run.add_argument("--map", default=None, help="a map file or a name in assets/maps")
    run.add_argument("--agents", type=int, default=None, help="number of agents")
    run.set_defaults(func=run_command)


def run_command(args) -> int:
    config = {"map": args.map} if args.map else {}
    if args.agents is not None:
        config["num_agents"] = args.agents
    env = worlds.make_parallel(args.scenario, render_mode="rgb_array", **config)
    agent = RandomAgent(seed=args.seed)
    print(
        f"{args.scenario}: {len(env.possible_agents)} agents, random legal actions, {args.episodes} episodes"
    )
    print(f"{'episode':>7}  {'seed':>5}  {'steps':>5}  returns")
    first = None
    # frames of a huge map are scaled down so that episode 0's GIF fits in memory
    shape = env.state_space.shape[:2]
    stride = frame_stride(shape, 32, env.scenario.max_cycles + 1)
    for k in range(args.episodes):
        episode = play_episode(env, agent, seed=args.seed + k, keep_frames=(k == 0), stride=stride)
        first = first or episode
        returns = "  ".join(f"{a}={r:+.2f}({episode.ended[a][:4]})" for a, r in episode.returns.items())
        print(f"{k:>7}  {args.seed + k:>5}  {episode.steps:>5}  {returns}")
    out = Path(args.out)
    gif = save_gif(first.frames, out / f"{args.scenario}.gif", fps=env.metadata["render_fps"])
    png = save_png(first.frames[0], out / f"{args.scenario}.png")
    print(f"wrote {gif} ({len(first.frames)} frames of episode 0) and {png} (its first frame)")
    return 0


def add_scenarios_parser(sub) -> None:
    listing = sub.add_parser("scenarios", help="list the registered scenarios")
    listing.set_defaults(func=lambda args: print("\n".join(worlds.SCENARIOS)))


if __name__ == "__main__":
    sys.exit(main())
