"""`arena train SCENARIO --population N`: the options, their checks, a thin layer over
`arena.population.population.Population`."""

from __future__ import annotations

import sys
from pathlib import Path

from arena.population.config import CHECKPOINT, PopulationConfig
from arena.training.loop import parse_pairs

# `arena train` options a population does not take: its interval is --exploit-every
NOT_HERE = ("independent", "frozen", "eval_every", "checkpoint_every", "self_play", "snapshot_every",
            "pool_share", "pfsp_power", "db", "curriculum")  # fmt: skip
SETTINGS = ("scenario", "seat", "config", "hp", "worlds", "seed", "population", "exploit_every",
            "exploit_share", "resample_chance", "log_every", "eval_worlds", "eval_seed",
            "eval_greedy")  # fmt: skip


def add_population_options(parser) -> None:
    g = parser.add_argument_group("population-based training (PBT)")
    g.add_argument(
        "--population",
        type=int,
        metavar="N",
        help="train N members (ppo, a2c or reinforce) with hyper-parameters drawn from ranges; every "
        "--exploit-every steps the weakest copy the strongest's weights and hyper-parameters and explore "
        "them (--hp KEY=VALUE fixes one, --hp KEY=LOW:HIGH searches one); --steps is per member",
    )
    g.add_argument(
        "--exploit-every", type=int, help="env steps per member between exploit steps (default steps/10)"
    )
    g.add_argument(
        "--exploit-share",
        type=float,
        help="the weakest share copies the strongest share (default 0.25; 0: never)",
    )
    g.add_argument(
        "--resample-chance",
        type=float,
        help="explore: chance a copied value is drawn afresh instead of x0.8 or x1.2 (default 0.25)",
    )
    # --ray is train's own option (arena.cluster): members become Ray actors with it


def is_population(out: str | None) -> bool:
    """Whether `--out` holds a population run (what `--resume` continues)."""
    return out is not None and (Path(out) / CHECKPOINT).exists()


def population_command(args) -> int:
    from arena.population.population import Population
    from arena.training.command import parse_teams, with_config

    wrong = [
        f"--{name.replace('_', '-')}" for name in NOT_HERE if getattr(args, name, None) not in (None, False)
    ]
    if wrong:
        raise ValueError(f"--population does not take {', '.join(wrong)}")
    if args.resume:
        if args.out is None:
            raise ValueError("--resume needs the --out folder of the population to continue")
        given = [name for name in SETTINGS if getattr(args, name, None) not in (None, False)]
        if given:
            raise ValueError(
                "--resume takes the population's settings from its checkpoint; only --steps, --device, "
                f"--threads, --ray, --export and --quiet may be given (got {', '.join(given)})"
            )
        config = None
        overrides = {"device": args.device, "threads": args.threads} | (
            {"steps": args.steps} if args.steps else {}
        )
    else:
        overrides = None
        defaults = PopulationConfig()
        config = PopulationConfig(
            scenario=with_config(args.scenario or defaults.scenario, args.config or []),
            teams=parse_teams(args.seat or []),
            hyper=parse_pairs(args.hp or [], "--hp"),
            population=args.population,
            worlds=_given(args.worlds, defaults.worlds),
            steps=_given(args.steps, defaults.steps),
            seed=_given(args.seed, defaults.seed),
            device=args.device,
            threads=args.threads,
            exploit_every=args.exploit_every,
            exploit_share=_given(args.exploit_share, defaults.exploit_share),
            resample_chance=_given(args.resample_chance, defaults.resample_chance),
            log_every=args.log_every,
            eval_worlds=_given(args.eval_worlds, defaults.eval_worlds),
            eval_seed=_given(args.eval_seed, defaults.eval_seed),
            eval_greedy=bool(args.eval_greedy),
        )
    out = args.out or f"runs/{config.scenario.split(':')[0]}_pbt"
    population = Population(
        config, out, resume=args.resume, quiet=args.quiet, overrides=overrides, ray=args.ray
    )
    if args.resume and population.step >= population.config.steps:
        population.close()
        raise ValueError(
            f"{out}: the population already reached {population.step:,} steps; give a larger --steps"
        )
    if not args.quiet:
        print(describe(population), flush=True)
    try:
        summary = population.run()
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; `arena train --out {out} --resume` continues from the last interval",
            file=sys.stderr,
        )
        return 130
    if args.export and summary["best"] is not None:
        for path in population.export(args.export, summary["best"]["member"]):
            print(f"exported {path}")
    return 0


def _given(value, default):
    return default if value is None else value


def describe(population) -> str:
    config = population.config
    where = ", members on Ray actors" if type(population.hosts).__name__ == "OnRay" else ""
    ranges = ", ".join(
        f"{k} {r.low:g}..{r.high:g}{' (log)' if r.log else ''}" for k, r in sorted(population.space.items())
    )
    start = f", resuming at step {population.step:,}" if population.step else ""
    score = "a ladder among the members" if population.ladder else "success on fixed seeds"
    return (
        f"arena train {config.scenario} --population {config.population}: {population.algo}, searching "
        f"{ranges or 'nothing'}; {config.worlds} worlds and {config.steps:,} env steps per member, exploit "
        f"every {config.interval():,} (share {config.exploit_share:g}), scored by {score}, seed {config.seed}"
        f"{where}{start} -> {population.out}"
    )
