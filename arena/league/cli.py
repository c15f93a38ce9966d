"""`arena league` (play a schedule into the ladder) and `arena ladder` (show it).

arena league tag_v0 --player greedy=planner --player rand=random --games 16
arena league flags_v0 --player a=planner --player b=random --schedule swiss --rounds 3
arena league tag_v0 --player greedy=planner --player rand=random --ray HEAD:6379   # on a Ray cluster
arena ladder --scenario tag_v0            # table, head-to-head and rating PNGs
arena ladder --json                       # the same rows for scripts
"""

from __future__ import annotations

import json
from pathlib import Path

from arena.cluster import add_ray_option
from arena.league import db, ratings, schedule
from arena.league.db import DEFAULT_DB


def add_parsers(sub) -> None:
    """Registers `arena league` and `arena ladder`."""
    league = sub.add_parser("league", help="play a league of players into the SQLite ladder")
    league.add_argument(
        "scenario", help="scenario name (two-team ones: tag_v0, flags_v0; others race on scores)"
    )
    league.add_argument(
        "--player",
        action="append",
        default=[],
        metavar="NAME=CONTROLLER",
        help="a player: random, planner, lm[:MODEL] or a checkpoint path (repeatable, at least two)",
    )
    league.add_argument("--games", type=int, default=4, help="games per pairing and side (default 4)")
    league.add_argument("--db", default=DEFAULT_DB, help=f"the ladder file (default ./{DEFAULT_DB})")
    league.add_argument("--schedule", default="round-robin", choices=schedule.SCHEDULES)
    league.add_argument(
        "--rounds", type=int, default=None, help="rounds of swiss/matchmaking (default log2 P + 1)"
    )
    league.add_argument("--seed", type=int, default=0, help="the schedule's and the maps' seed")
    league.add_argument("--batch", type=int, default=64, help="matches played at once in batch worlds")
    league.add_argument("--record-dir", default=None, help="save every match as a record (arena replay)")
    league.add_argument(
        "--config", action="append", default=[], metavar="KEY=VALUE", help="scenario config, e.g. size=7"
    )
    league.add_argument("--device", default="auto", help="torch device for checkpoint and LM players")
    league.add_argument("--quiet", action="store_true", help="no progress bar")
    add_ray_option(league)
    league.set_defaults(func=league_command)

    ladder = sub.add_parser("ladder", help="the ladder: ratings, head-to-head matrix, rating history")
    ladder.add_argument("--db", default=DEFAULT_DB, help=f"the ladder file (default ./{DEFAULT_DB})")
    ladder.add_argument("--scenario", default=None, help="one scenario (default: every one in the ladder)")
    ladder.add_argument("--json", action="store_true", help="print the rows as JSON (no PNGs)")
    ladder.add_argument("--out", default="out", help="folder for the PNGs (default ./out)")
    ladder.set_defaults(func=ladder_command)


def league_command(args) -> int:
    from arena.league.league import LeagueSpec, parse_players, run_league
    from arena.training.loop import parse_pairs

    spec = LeagueSpec(
        scenario=args.scenario,
        players=parse_players(args.player),
        config=parse_pairs(args.config, "--config"),
        games=args.games,
        schedule=args.schedule,
        rounds=args.rounds,
        seed=args.seed,
        batch=args.batch,
        record_dir=args.record_dir,
        device=args.device,
    )
    summary = run_league(spec, args.db, progress=not args.quiet, ray_address=args.ray)
    print(
        f"league {args.scenario}: {summary['played']} matches played, {summary['skipped']} already in "
        f"{args.db} ({summary['matches_per_s']:.1f} matches/s)"
    )
    conn = db.open_ladder(args.db, create=False)
    try:
        print(format_table(ratings.ladder(conn, args.scenario)))
    finally:
        conn.close()
    return 0


def ladder_command(args) -> int:
    conn = db.open_ladder(args.db, create=False)
    try:
        held = db.scenarios(conn)
        names = [args.scenario] if args.scenario else held
        if args.scenario and args.scenario not in held:
            raise ValueError(
                f"{args.db}: no matches of {args.scenario} (it has: {', '.join(held) or 'none'})"
            )
        tables = {s: ratings.ladder(conn, s) for s in names}
        if args.json:
            print(json.dumps([row.to_json() for s in names for row in tables[s]], indent=1))
            return 0
        for s in names:
            print(f"{s}:")
            print(format_table(tables[s]))
            print(f"wrote {', '.join(str(p) for p in write_pngs(conn, s, Path(args.out)))}")
    finally:
        conn.close()
    return 0


def write_pngs(conn, scenario: str, out: Path) -> list[Path]:
    from arena.league.plots import head_to_head_png, rating_history_png

    players, rates, played = ratings.head_to_head(conn, scenario)
    return [
        head_to_head_png(
            players, rates, played, f"{scenario}: head to head", out / f"ladder_{scenario}_h2h.png"
        ),
        rating_history_png(
            ratings.history(conn, scenario), f"{scenario}: ratings", out / f"ladder_{scenario}_ratings.png"
        ),
    ]


def format_table(rows: list[ratings.LadderRow]) -> str:
    head = f"{'rank':>4}  {'player':<20} {'mu':>7} {'sigma':>6} {'mu-3s':>7} {'games':>6} {'win rate':>8}"
    head += "  controller"
    lines = [head]
    for r in rows:
        spec = r.spec if len(r.spec) <= 40 else "..." + r.spec[-37:]
        lines.append(
            f"{r.rank:>4}  {r.player:<20} {r.mu:>7.2f} {r.sigma:>6.2f} {r.rating:>7.2f} {r.games:>6} "
            f"{r.win_rate:>8.1%}  {spec}"
        )
    return "\n".join(lines)
