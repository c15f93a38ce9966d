"""The command line of `arena lm eval` (the evaluation itself is `arena.lm.eval`).

arena lm eval --episodes 16 --threads 1                   # the shipped model, every scenario
arena lm eval --model out/lm_distill/keys_v0-keys_v0_agents --scenarios keys_v0 --json
arena lm eval --seat-spec lm:smollm2 --scenarios maze_v0,tag_v0:size=11
arena lm eval --ladder arena.sqlite --name lm-default      # results into the ladder as player lm-default
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

from arena.lm import eval as lm_eval
from arena.options import add_threads_option, positive_int, seed_int, set_threads


def add_parser(cmds) -> None:
    ev = cmds.add_parser("eval", help="progress score 0-100 per scenario of an LM seat (BALROG-style)")
    ev.add_argument(
        "--seat-spec",
        default=None,
        metavar="SPEC",
        help="the seat to evaluate, any controller spec: lm, lm:PATH, lm:http://..., a checkpoint",
    )
    ev.add_argument("--model", default=None, help="shorthand for --seat-spec lm:MODEL (default: default)")
    ev.add_argument("--scenarios", default="all", help="all, or SCENARIO[:K=V...] comma-separated")
    ev.add_argument("--episodes", type=positive_int, default=32, help="seeded episodes per scenario")
    ev.add_argument("--worlds", type=positive_int, default=64, help="episodes played at once")
    ev.add_argument(
        "--seed", type=seed_int, default=0, help=f"world b is seeded {lm_eval.EVAL_SEED:,} + seed + b"
    )
    add_threads_option(ev)
    ev.add_argument("--device", default="auto", help="auto (cuda if torch sees one), cpu or cuda")
    ev.add_argument(
        "--baselines",
        default=str(lm_eval.DEFAULT_CACHE),
        help=f"cache of the random and planner baselines (default {lm_eval.DEFAULT_CACHE}; 'none': no cache)",
    )
    ev.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    ev.add_argument("--out", default=None, help="also write the JSON report to this file")
    ev.add_argument("--ladder", default=None, metavar="PATH", help="enter the episodes into this ladder file")
    ev.add_argument("--name", default=None, help="the player's name in the ladder (with --ladder)")
    ev.set_defaults(func=eval_command)


def seat_spec(args) -> str:
    if args.seat_spec and args.model:
        raise ValueError("give --seat-spec or --model, not both")
    return args.seat_spec or f"lm:{args.model or 'default'}"


def eval_command(args) -> int:
    import torch

    spec = seat_spec(args)
    if args.ladder and not args.name:
        raise ValueError("--ladder needs --name NAME, the player's name in the ladder")
    set_threads(args.threads)
    cache = None if args.baselines.lower() in ("", "none") else Path(args.baselines)
    scenarios = lm_eval.parse_scenarios(args.scenarios)
    results = []
    for label, scenario in scenarios:
        result = lm_eval.evaluate(
            spec, label, scenario, args.episodes, args.seed, args.worlds, args.device, cache
        )
        results.append(result)
        if not args.json:
            if len(results) == 1:
                print(header(spec, args))
            print(row_line(result.report), flush=True)
    reports = [r.report for r in results]
    report = {
        "seat": spec,
        "episodes": args.episodes,
        "seed": args.seed,
        "first_seed": lm_eval.EVAL_SEED + args.seed,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "scenarios": reports,
        "overall": lm_eval.overall(reports),
    }
    if args.ladder:
        from arena.lm.eval_ladder import enter

        report["ladder"] = {"path": args.ladder, "name": args.name} | enter(
            args.ladder, args.name, spec, results
        )
    if args.out:
        from agents.files import write_atomic

        text = json.dumps(report, indent=1) + "\n"
        write_atomic(args.out, lambda tmp: Path(tmp).write_text(text))
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(footer(report))
    return 0


COLUMNS = (
    f"{'scenario':<16} | {'evaluated team (agents)':<34} | {'progress':>12} | {'success':>7} | "
    f"{'score (random / planner)':>26} | {'dec/s':>6} | {'tok/dec':>7} | {'s':>5}"
)


def header(spec: str, args) -> str:
    return (
        f"arena lm eval: {spec}, {args.episodes} episodes per scenario "
        f"(seeds {lm_eval.EVAL_SEED + args.seed:,}...), opponents: the planner\n"
        f"progress: goal scenarios 100 x success; {', '.join(lm_eval.SCORED)}: the team's score, "
        "random = 0, planner = 100\n" + COLUMNS + "\n" + "-" * len(COLUMNS)
    )


def row_line(r: dict) -> str:
    who = f"{r['team']} ({len(r['agents'])})"
    if r["opponents"]:
        who += f" vs planner {r['opponent_team']} ({len(r['opponent_agents'])})"
    if not r["playable"]:
        reason = r["reason"] if len(r["reason"]) <= 60 else r["reason"][:57] + "..."
        return f"{r['scenario']:<16} | {who:<34} | {'cannot play':>12} | {reason}"
    base = f"{r['random']['score']:.2f} / {r['planner']['score']:.2f}"
    prog = "n/a" if r["progress"] is None else f"{r['progress']:.1f} ± {r['progress_se']:.1f}"
    tokens = r["tokens_per_decision"]
    tok = "-" if tokens is None else f"{tokens['prompt'] + tokens['generated']:.0f}"
    return (
        f"{r['scenario']:<16} | {who:<34} | {prog:>12} | {r['success']:>7.2f} | "
        f"{r['score']:>7.2f} ({base:>16}) | {r['decisions_per_s']:>6.0f} | {tok:>7} | {r['seconds']:>5.1f}"
    )


def footer(report: dict) -> str:
    o = report["overall"]
    lines = [
        f"overall progress {o['progress']:.1f} ± {o['progress_se']:.1f} over {o['scenarios']} scenarios "
        f"(one it cannot play counts 0); {o['played']} played"
        + (f": {o['progress_played']:.1f} over those" if o["progress_played"] is not None else ""),
        "(dec/s: decisions per second of the seat's act; tok/dec: prompt tokens read per decision, "
        "plus tokens generated)",
    ]
    if "ladder" in report:
        lad = report["ladder"]
        lines.append(
            f"ladder {lad['path']}: {lad['added']} matches of {lad['name']} added, {lad['skipped']} already "
            f"there ({', '.join(lad['scenarios']) or 'none played'}); see `arena ladder --db {lad['path']}`"
        )
    return "\n".join(lines)
