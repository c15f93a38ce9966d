"""The `arena train` command line: options, checks of what was given, and a thin layer over
`arena.training.run.Run` (and `arena.training.curriculum` for `--curriculum`)."""

from __future__ import annotations

import sys

from arena.cluster import add_ray_option
from arena.population.command import add_population_options, is_population, population_command
from arena.training.loop import ALGOS, LM_ALGOS, parse_pairs, parse_scenario
from arena.training.run import Run, TrainConfig

RUN_OPTIONS = (
    "seat",
    "config",
    "independent",
    "frozen",
    "hp",
    "worlds",
    "seed",
    "log_every",
    "eval_every",
    "eval_worlds",
    "eval_seed",
    "eval_greedy",
    "checkpoint_every",
    "self_play",
    "snapshot_every",
    "pool_share",
    "pfsp_power",
    "db",
)  # fixed once a run starts


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train learners in batch worlds, headless (or a continual-learning --curriculum)",
        description="Train learners in batch-mode worlds: logs, evaluation, checkpoints, --resume, "
        "a summary table and learning curves in --out.",
    )
    p.add_argument("scenario", nargs="?", help="scenario with optional variations, e.g. maze_v0:size=7")
    p.add_argument(
        "--seat",
        "--team",  # the old spelling, kept for one version
        dest="seat",
        action="append",
        metavar="NAME=ALGO",
        help=f"who drives a team or one agent: {'|'.join(ALGOS)}, a language-model learner "
        f"{'|'.join(f'{a}[:MODEL]' for a in LM_ALGOS)}, a controller name (random, planner) or a "
        "checkpoint path (keeps learning); default: every team ppo",
    )
    p.add_argument(
        "--config",
        action="append",
        metavar="KEY=VALUE",
        help="a scenario option, as in watch and play (same as SCENARIO:KEY=VALUE), e.g. size=7",
    )
    p.add_argument(
        "--independent", action="store_true", default=None, help="one learner per agent, not per team"
    )
    p.add_argument("--frozen", action="append", metavar="NAME", help="a seat that acts but does not learn")
    p.add_argument(
        "--hp",
        action="append",
        metavar="KEY=VALUE",
        help="a hyper-parameter for every new learner, or SEAT.KEY=VALUE for one (e.g. hunters.lr=0.001)",
    )
    p.add_argument("--worlds", type=int, help="batch worlds stepped together (default 64)")
    p.add_argument("--steps", type=int, help="env steps to train, worlds x iterations (default 100000)")
    p.add_argument("--seed", type=int, help="world b is seeded seed + b (default 0)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="rollout workers: N processes (Ray actors with --ray) step the worlds with the learners' "
        "weights and send the steps back; the learners stay here (default 0: this process steps them)",
    )
    add_ray_option(p)
    p.add_argument("--out", help="run folder (default runs/SCENARIO, runs/curriculum)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--log-every", type=int, help="env steps between log lines (default steps/100)")
    p.add_argument("--eval-every", type=int, help="env steps between evaluations (default steps/10)")
    p.add_argument("--eval-worlds", type=int, help="evaluation episodes, one per world (default 32)")
    p.add_argument("--eval-seed", type=int, help="evaluation worlds are seeded this + b (default 1000000)")
    p.add_argument(
        "--eval-greedy",
        action="store_true",
        default=None,
        help="evaluate learners' greedy actions (default: sample, as they play in watch/play)",
    )
    p.add_argument("--checkpoint-every", type=int, help="env steps between checkpoints (default steps/10)")
    p.add_argument(
        "--export", metavar="DIR", help="also write <scenario>_<seat>.safetensors into DIR at the end"
    )
    p.add_argument("--quiet", action="store_true", help="no progress line and no summary")
    s = p.add_argument_group("self-play (two-team scenarios)")
    s.add_argument(
        "--self-play",
        nargs="?",
        const="all",
        metavar="TEAMS",
        help="each named team (comma-separated; default both) also meets past snapshots of the other "
        "team's learner, drawn by PFSP, in --pool-share of the worlds; all rated in the --db ladder",
    )
    s.add_argument("--snapshot-every", type=int, help="env steps between snapshots (default steps/10)")
    s.add_argument("--pool-share", type=float, help="share of worlds played against snapshots (default 0.5)")
    s.add_argument("--pfsp-power", type=float, help="PFSP weight (1 - win rate)^POWER (default 2)")
    s.add_argument("--db", help="the self-play ladder (default OUT/ladder.sqlite)")
    c = p.add_argument_group("continual learning")
    c.add_argument(
        "--curriculum",
        metavar="TASKS",
        help="tasks in order, e.g. maze_v0,plates_v0,tag_v0:size=11, or "
        "tasks:FAMILY[:split][:count] (default train, 5): that many tasks of worlds.tasks, "
        "e.g. tasks:maze:test:8",
    )
    c.add_argument(
        "--steps-per-task", type=int, default=50_000, help="env steps on each task (default 50000)"
    )
    c.add_argument(
        "--continual",
        default="none",
        help="methods to compare, comma-separated: none (sequential fine-tuning), replay, ewc, "
        "joint (all tasks at once); plasticity remedies shrink_perturb, l2_init, reset, and scratch "
        "(a new learner per task) (default none)",
    )
    c.add_argument(
        "--algo", default="ppo", choices=ALGOS + LM_ALGOS, help="the curriculum's learner (default ppo)"
    )
    c.add_argument("--opponent", default="random", help="controller of the other teams (default random)")
    add_population_options(p)
    p.set_defaults(func=train_command)


def train_command(args) -> int:
    if args.population is not None or (args.resume and is_population(args.out)):
        return population_command(args)
    if args.curriculum:
        from arena.training.curriculum import curriculum_command

        if args.workers:
            raise ValueError("--workers trains one scenario; a --curriculum runs in this process")
        return curriculum_command(args)
    given = [name for name in RUN_OPTIONS if getattr(args, name) is not None]
    named = ["scenario"] * bool(args.scenario) + given
    if args.resume:
        if args.out is None:
            raise ValueError("--resume needs the --out folder of the run to continue")
        if given or args.scenario:
            raise ValueError(
                "--resume takes the run's settings from its checkpoint; only --steps, --device, "
                f"--export and --quiet may be given (got {', '.join(named)})"
            )
        config = None
        overrides = {"device": args.device, "threads": args.threads} | (
            {"steps": args.steps} if args.steps else {}
        )
        if args.workers is not None:
            overrides["workers"] = args.workers
    else:
        overrides = None
        defaults = TrainConfig()
        config = TrainConfig(
            scenario=with_config(args.scenario or defaults.scenario, args.config or []),
            teams=parse_teams(args.seat or []),
            independent=bool(args.independent),
            frozen=args.frozen or [],
            hyper=parse_pairs(args.hp or [], "--hp"),
            worlds=_given(args.worlds, defaults.worlds),
            steps=_given(args.steps, defaults.steps),
            seed=_given(args.seed, defaults.seed),
            device=args.device,
            threads=args.threads,
            log_every=args.log_every,
            eval_every=args.eval_every,
            eval_worlds=_given(args.eval_worlds, defaults.eval_worlds),
            eval_seed=_given(args.eval_seed, defaults.eval_seed),
            eval_greedy=bool(args.eval_greedy),
            checkpoint_every=args.checkpoint_every,
            self_play=self_play_teams(args),
            snapshot_every=args.snapshot_every,
            pool_share=_given(args.pool_share, defaults.pool_share),
            pfsp_power=_given(args.pfsp_power, defaults.pfsp_power),
            db=args.db,
            workers=_given(args.workers, defaults.workers),
        )
    if args.ray and config is not None and not config.workers:
        raise ValueError(
            "--ray puts rollout workers on a Ray cluster: give --workers N too (or --population N)"
        )
    out = args.out or f"runs/{config.scenario.split(':')[0]}"
    run = Run(config, out, resume=args.resume, quiet=args.quiet, overrides=overrides, ray_address=args.ray)
    if args.resume and run.step >= run.config.steps:
        raise ValueError(f"{out}: the run already reached {run.step:,} steps; give a larger --steps to go on")
    if not args.quiet:
        print(describe(run), flush=True)
    try:
        run.run()
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; `arena train --out {out} --resume` continues from the last checkpoint",
            file=sys.stderr,
        )
        return 130
    if args.export:
        for path in run.export(args.export):
            print(f"exported {path}")
    return 0


def _given(value, default):
    return default if value is None else value


def self_play_teams(args) -> list[str]:
    """`--self-play` alone: every team of the scenario; `--self-play hunters`: those named."""
    if args.self_play is None:
        return []
    if args.self_play == "all":
        return list(parse_scenario(args.scenario or TrainConfig.scenario).team_names)
    return [team for team in args.self_play.split(",") if team]


def with_config(scenario: str, pairs: list[str]) -> str:
    """`maze_v0` and `--config size=7` -> `maze_v0:size=7`: the run keeps one scenario spec."""
    for pair in pairs:
        if "=" not in pair or pair.startswith("="):
            raise ValueError(f"--config: expected KEY=VALUE (e.g. size=7), got {pair!r}")
    return ":".join([scenario, *pairs])


def parse_teams(items: list[str]) -> dict[str, str]:
    teams = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep or not name or not spec:
            raise ValueError(f"--seat: expected NAME=ALGO (e.g. hunters=ppo), got {item!r}")
        teams[name] = spec
    return teams


def describe(run: Run) -> str:
    seats = ", ".join(f"{s.name}={s.spec}{' (frozen)' if s.frozen else ''}" for s in run.seats)
    start = f", resuming at step {run.step:,}" if run.step else ""
    workers = f" over {run.config.workers} workers{' on Ray' if run.ray_address else ''}"
    return (
        f"arena train {run.config.scenario}: {seats}; {run.config.worlds} worlds"
        f"{workers if run.config.workers else ''}, "
        f"{run.config.steps:,} env steps, seed {run.config.seed}, device {run.device}{start} -> {run.out}"
    )
