"""The `arena` command line."""

from __future__ import annotations

import argparse
import difflib
import sys
import warnings
from pathlib import Path

import worlds
from arena.episode import save_gif, save_png
from arena.options import add_threads_option, frame_stride, positive_int, seed_int, set_threads
from arena.training.loop import counted
from worlds.errors import ArenaError

# the extra that installs each optional module (`import worlds` needs none of them)
EXTRAS = {
    "torch": "arena",
    "transformers": "arena",
    "safetensors": "arena",
    "pygame": "arena",
    "matplotlib": "arena",
    "openskill": "arena",
    "ray": "ray",
    "imageio_ffmpeg": "video",
    "peft": "lora",
    "openai": "served",
}


def build_parser() -> argparse.ArgumentParser:
    from arena import bench
    from arena.league import cli as league_cli
    from arena.lm import commands as lm_commands
    from arena.meta import cli as meta_cli
    from arena.records import replay
    from arena.training import command as train_command
    from arena.viewer import watch

    parser = argparse.ArgumentParser(prog="arena", description="Grid Arena: worlds, agents and the arena.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    add_scenarios_parser(sub)
    bench.add_parser(sub)
    watch.add_parser(sub)
    replay.add_parser(sub)
    train_command.add_parser(sub)
    lm_commands.add_parser(sub)  # arena lm train|bench|finetune|continual
    league_cli.add_parsers(sub)  # arena league, arena ladder
    meta_cli.add_parser(sub)  # arena meta train|eval
    add_examples(parser)
    return parser


# examples at the end of each command's --help (and of docs/cli.md)
EXAMPLES = {
    "arena run": ["arena run", "arena run tag_v0 --episodes 5", "arena run flags_v0 --seat east=random"],
    "arena scenarios": ["arena scenarios"],
    "arena bench": ["arena bench --seconds 1 --no-peers", "arena bench --quick"],
    "arena watch": [
        "arena watch tag_v0",
        "arena watch maze_v0 --seat agents=assets/checkpoints/maze_v0_agents.safetensors",
        "arena watch tag_v0 --headless --episodes 3 --out out/tag.mp4",
        "arena watch signal_v0 --seat agent_1=lm --overlay --threads 1",
    ],
    "arena play": [
        "arena play tag_v0 --seat hunter_0=human",
        "arena play plates_v0 --seat agent_0=human:wasd --seat agent_1=human:arrows --turn-based",
        "arena play tag_v0 --seat runners=human --ladder out/ladder.sqlite --name me",
    ],
    "arena replay": ["arena replay out/records/episode_0.json --speed 2", "arena replay FILE --headless"],
    "arena export": ["arena export out/records/episode_0.json --out episode.gif --overlay"],
    "arena train": [
        "arena train maze_v0 --steps 300000",
        "arena train tag_v0 --seat hunters=ppo --seat runners=dqn --hp hunters.lr=0.001",
        "arena train maze_v0 --config size=7 --seat agents=tabular_q --steps 50000",
        "arena train --out runs/maze_v0 --resume",
        "arena train --curriculum tasks:maze:train:8 --steps-per-task 20000",
        "arena train tag_v0 --seat runners=planner --workers 2",
        "arena train tag_v0 --workers 8 --ray 10.0.0.1:6379",
    ],
    "arena lm train": ["arena lm train --seed 0 --threads 1"],
    "arena lm bench": ["arena lm bench --seconds 2", "arena lm bench --batches 16 --success --episodes 20"],
    "arena lm finetune": ["arena lm finetune plates_v0 --config num_agents=1 size=5 --steps 20480"],
    "arena lm continual": ["arena lm continual --threads 1 --hp continual=ewc ewc_lambda=100"],
    "arena league": [
        "arena league tag_v0 --player a=planner --player b=random --games 20",
        "arena league tag_v0 --player a=planner --player b=random --games 64 --batch 8 --ray",
    ],
    "arena ladder": ["arena ladder --db runs/league.sqlite", "arena ladder --json"],
}


def add_examples(parser: argparse.ArgumentParser) -> None:
    from arena.cli_reference import commands

    for name, command in commands(parser):
        if name in EXAMPLES and not command.epilog:
            command.epilog = "examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[name])
            command.formatter_class = argparse.RawDescriptionHelpFormatter


def missing(err: ModuleNotFoundError) -> str:
    """What to install for a module that is not there."""
    root = (err.name or "").split(".")[0]
    extra = EXTRAS.get(root)
    if extra is None:
        raise err  # not an optional dependency: a real bug, keep its traceback
    return f"needs {root}, from an extra: pip install 'grid-arena[{extra}]'"


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
    except ModuleNotFoundError as err:
        print(f"arena: {missing(err)} (`import worlds` alone needs none)", file=sys.stderr)
        return 2
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        refuse_unknown(command_parser(parser, args), unknown)
    warnings.formatwarning = lambda message, *rest, **kw: f"arena {args.command}: warning: {message}\n"
    try:
        return args.func(args) or 0
    except ModuleNotFoundError as err:
        print(f"arena {args.command}: {missing(err)}", file=sys.stderr)
        return 2
    except (ArenaError, ValueError, OSError) as err:  # OSError: a missing file, a full disk
        print(f"arena {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2


def command_parser(parser: argparse.ArgumentParser, args) -> argparse.ArgumentParser:
    """The parser of the (sub)command that was run: `arena lm finetune`'s, not `arena`'s."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or getattr(args, subs[0].dest, None) not in subs[0].choices:
            return parser
        parser = subs[0].choices[getattr(args, subs[0].dest)]


def refuse_unknown(parser: argparse.ArgumentParser, unknown: list[str]) -> None:
    """Exit with the subcommand's usage and, for a misspelled flag, the flag it resembles."""
    flags = [s for a in parser._actions for s in a.option_strings]
    hints = []
    for word in unknown:
        close = difflib.get_close_matches(word.split("=")[0], flags, n=1) if word.startswith("-") else []
        if close:
            hints.append(close[0])
    hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
    parser.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")


def one_line(err: BaseException) -> str:
    """An error's message on one line (some libraries' messages span several)."""
    if isinstance(err, OSError) and err.filename is not None and not isinstance(err, ArenaError):
        return f"{err.filename}: {err.strerror or err}"
    return " ".join(str(err).split()) or type(err).__name__


def add_run_parser(sub) -> None:
    run = sub.add_parser(
        "run",
        help="play headless episodes with the shipped trained agents; print results, write a GIF and a PNG",
        description="Headless episodes: every team is played by its shipped checkpoint "
        "(assets/checkpoints), or by the planner where none ships; --seat overrides.",
    )
    run.add_argument("scenario", nargs="?", default="maze_v0", help="scenario name (default maze_v0)")
    run.add_argument("--seat", action="append", default=[], metavar="NAME=CONTROLLER", help=SEAT_HELP)
    run.add_argument("--episodes", type=positive_int, default=3)
    run.add_argument("--seed", type=seed_int, default=0, help="episode k uses seed + k")
    run.add_argument("--out", default="out", help="folder for the GIF and PNG (default ./out)")
    run.add_argument("--map", default=None, help="a map file or a name in assets/maps")
    run.add_argument("--agents", type=int, default=None, help="number of agents")
    run.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="scenario option")
    add_threads_option(run)
    run.set_defaults(func=run_command)


SEAT_HELP = "who drives an agent or a team: random, planner, lm[:MODEL], a checkpoint (repeatable)"


def shipped_seats(scenario) -> list[str]:
    """`TEAM=assets/checkpoints/SCENARIO_TEAM.safetensors` for every team that ships one (the
    trained agents people should see first), the others the planner; then
    `AGENT=...SCENARIO_AGENT.safetensors` for an agent with a role of its own (signal_v0's
    speaker), which takes that agent from its team's seat."""
    folder = Path(__file__).resolve().parents[1] / "assets" / "checkpoints"
    seats = []
    for team in scenario.team_names:
        path = folder / f"{scenario.name}_{team}.safetensors"
        seats.append(f"{team}={path if path.exists() else 'planner'}")
    for agent in scenario.agent_names:
        path = folder / f"{scenario.name}_{agent}.safetensors"
        if path.exists():
            seats.append(f"{agent}={path}")
    return seats


def run_command(args) -> int:
    from arena.match import Match
    from arena.seats import Seating
    from arena.viewer.watch import scenario_config

    set_threads(args.threads)
    config = scenario_config(args)
    scenario = worlds.make_scenario(args.scenario, **config)
    named = {pair.partition("=")[0] for pair in args.seat}
    shipped = [pair for pair in shipped_seats(scenario) if pair.partition("=")[0] not in named]
    seating = Seating.from_specs(scenario, shipped + args.seat, seed=args.seed)
    match = Match(args.scenario, config, seating, seed=args.seed)
    seats = ", ".join(
        f"{pair.partition('=')[0]}={Path(pair.partition('=')[2]).name}" for pair in shipped + args.seat
    )
    episodes = f"{args.episodes} episode{'s' * (args.episodes > 1)}"
    print(f"{args.scenario}: {counted('agent', match.agents)}; seats {seats}; {episodes}")
    shape = match.env.state_space.shape[:2]
    stride = frame_stride(shape, 32, scenario.max_cycles + 1)  # a huge map's frames scaled down
    frames = []
    for k in range(args.episodes):
        match.reset(args.seed + k)
        board = (lambda m: m.board(32)[::stride, ::stride]) if k == 0 else (lambda m: None)
        shown = match.play(board)
        frames = frames or shown
        returns = "  ".join(f"{a}={r:+.2f}" for a, r in zip(match.agents, match.returns, strict=True))
        print(f"{k:>3}  seed {args.seed + k:>4}  {match.steps:>4} steps  {match.outcome()}  ({returns})")
    out = Path(args.out)
    gif = save_gif(frames, out / f"{args.scenario}.gif", fps=match.env.metadata["render_fps"])
    png = save_png(frames[0], out / f"{args.scenario}.png")
    print(f"wrote {gif} ({len(frames)} frames of episode 0) and {png} (its first frame)")
    return 0


def add_scenarios_parser(sub) -> None:
    listing = sub.add_parser("scenarios", help="list the registered scenarios")
    listing.set_defaults(func=lambda args: print("\n".join(worlds.SCENARIOS)))


if __name__ == "__main__":
    sys.exit(main())
