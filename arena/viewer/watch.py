"""`arena watch` and `arena play`: seated controllers in the viewer, or headless to a video.

    arena watch tag_v0 --seat hunters=planner --seat runners=random
    arena play tag_v0 --seat hunter_0=human                  # you are hunter_0
    arena play plates_v0 --seat agent_0=human:wasd --seat agent_1=human:arrows   # two people
    arena watch maze_v0 --headless --out maze.gif --record maze.npz

With no display (or `--headless`), `watch` plays its episodes without a window, writes them as
a video (`--out`, default out/watch_SCENARIO.gif) and says where. pygame is imported only by
the commands that draw.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from arena.options import (
    add_threads_option,
    check_frames,
    positive_float,
    positive_int,
    seed_int,
    set_threads,
)
from arena.seats import DEFAULT_SPEC


def add_parser(sub) -> None:
    """Registers `arena watch` and `arena play`."""
    watch = sub.add_parser("watch", help="watch agents play in a window (or render a video headless)")
    _common(watch, speed=6.0)
    watch.add_argument("--headless", action="store_true", help="no window: write the episodes as a video")
    watch.add_argument(
        "--out", default=None, help="the video when headless (.gif or .mp4; default out/watch_SCENARIO.gif)"
    )
    watch.add_argument("--episodes", type=int, default=1, help="episodes to play headless (default 1)")
    watch.add_argument(
        "--screenshot-at", type=int, default=None, metavar="STEP", help="headless: the screenshot's step"
    )
    watch.set_defaults(func=watch_command)
    play = sub.add_parser("play", help="take a seat (or two, one keyboard) and play against or with agents")
    _common(play, speed=4.0)
    play.add_argument("--ladder", default=None, metavar="FILE", help="record finished games in this ladder")
    play.add_argument("--name", default=None, help="your player name in the ladder (with --ladder)")
    play.set_defaults(func=play_command)


def _common(parser, speed: float) -> None:
    parser.add_argument("scenario", help="scenario name (arena scenarios lists them)")
    parser.add_argument(
        "--seat",
        action="append",
        default=[],
        metavar="NAME=CONTROLLER",
        help="who drives an agent or a team: random, planner, human[:wasd|:arrows], lm[:MODEL][#OPTIONS], "
        f"a checkpoint (repeatable; unnamed seats get --default, {DEFAULT_SPEC})",
    )
    parser.add_argument(
        "--default", default=DEFAULT_SPEC, help=f"controller of unnamed seats (default {DEFAULT_SPEC})"
    )
    parser.add_argument(
        "--seed", type=seed_int, default=0, help="episode seed (N in the viewer moves to the next one)"
    )
    parser.add_argument("--map", default=None, help="a map file or a name in assets/maps")
    parser.add_argument("--agents", type=int, default=None, help="number of agents")
    parser.add_argument(
        "--config", action="append", default=[], metavar="KEY=VALUE", help="scenario config, e.g. size=11"
    )
    parser.add_argument(
        "--speed", type=positive_float, default=speed, help=f"steps per second, real time (default {speed:g})"
    )
    parser.add_argument("--turn-based", action="store_true", help="the world waits for every human's key")
    parser.add_argument(
        "--overlay", action="store_true", help="start with thoughts shown above agents (T toggles)"
    )
    parser.add_argument("--record", default=None, metavar="FILE", help="save each episode as a record file")
    parser.add_argument(
        "--screenshot", default=None, metavar="PNG", help="save the last frame shown as a PNG"
    )
    parser.add_argument(
        "--tile", type=positive_int, default=48, help="tile size in pixels of headless frames (default 48)"
    )
    parser.add_argument("--device", default="auto", help="torch device for learned and LM seats")
    add_threads_option(parser)
    __import__("arena.lm.seats").lm.seats.add_options(parser)  # --team-channel, --memory
    parser.add_argument("--quit-at-end", action="store_true", help="close the window when the episode ends")


def scenario_config(args) -> dict:
    config = {}
    for pair in args.config:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--config takes KEY=VALUE (e.g. size=11), got {pair!r}")
        try:
            config[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            config[key.strip()] = value.strip()  # a bare word: a string (style=open)
    if args.map:
        config["map"] = args.map
    if args.agents is not None:
        config["num_agents"] = args.agents
    return config


def build_match(args, seats: list[str]):
    import worlds
    from arena.match import Match
    from arena.seats import Seating

    set_threads(getattr(args, "threads", None))
    config = scenario_config(args)
    try:
        scenario = worlds.make_scenario(args.scenario, **config)
    except TypeError as err:  # an unknown config key
        raise ValueError(f"{args.scenario}: {err}") from None
    seating = Seating.from_specs(scenario, seats, default=args.default, seed=args.seed, device=args.device)
    if args.team_channel or args.memory:
        from arena.lm.seats import equip

        equip(seating, scenario, args.team_channel, args.memory)
    return Match(args.scenario, config, seating, seed=args.seed)


def watch_command(args) -> int:
    from arena.viewer.window import display_available

    if args.headless or not display_available():
        if not args.headless:
            print("no display found: playing headless and writing a video instead", file=sys.stderr)
        return headless(args)
    return windowed(args, build_match(args, args.seat))


def play_command(args) -> int:
    from arena.viewer.window import display_available

    if not display_available():
        raise ValueError(
            "play needs a display to open its window (none found: DISPLAY is not set); "
            "`arena watch SCENARIO --headless` renders to a file instead"
        )
    seats = list(args.seat)
    if not any(spec.partition("=")[2].strip().startswith("human") for spec in seats):
        import worlds

        first = worlds.make_scenario(args.scenario, **scenario_config(args)).agent_names[0]
        seats.insert(0, f"{first}=human")
        print(f"you play {first} (no human seat given; --seat NAME=human picks another)")
    match = build_match(args, seats)
    if getattr(args, "ladder", None):
        from arena.league.human import LadderRecorder

        return windowed(args, match, LadderRecorder(args.ladder, args.name or "human", match))
    return windowed(args, match)


def windowed(args, match, ladder=None) -> int:
    from arena.viewer.window import Viewer

    viewer = Viewer(
        match,
        speed=args.speed,
        turn_based=args.turn_based,
        overlay=args.overlay,
        record=args.record,
        quit_at_end=args.quit_at_end,
    )
    try:
        while viewer.running:
            viewer.frame()
            if ladder is not None:
                ladder.update(match)  # a finished game goes into the ladder
        if args.screenshot:
            print(f"wrote {viewer.screenshot(args.screenshot)}")
    finally:
        viewer.close()
    return 0


def free_path(path: Path) -> Path:
    """`path`, or `name_2.gif`, `name_3.gif`, ... when it exists: a default output never replaces
    an earlier one (an explicit --out does)."""
    candidate, k = path, 2
    while candidate.exists():
        candidate, k = path.with_name(f"{path.stem}_{k}{path.suffix}"), k + 1
    return candidate


def headless(args) -> int:
    """Plays `--episodes` episodes without a window; writes the video, records, screenshot."""
    from arena.episode import save_png
    from arena.records.replay import episode_frames, save_video
    from arena.viewer.hud import View, frame
    from arena.viewer.window import record_path

    if args.episodes < 1:
        raise ValueError(f"--episodes must be at least 1, got {args.episodes}")
    if args.out and Path(args.out).suffix.lower() not in (".gif", ".mp4"):
        raise ValueError(f"--out {args.out}: the video must end in .gif or .mp4")
    match = build_match(args, args.seat)
    if match.humans():
        raise ValueError("a human seat needs a window: use `arena play` with a display, or other controllers")
    out = Path(args.out) if args.out else free_path(Path(f"out/watch_{args.scenario}.gif"))
    if out.suffix.lower() not in (".gif", ".mp4"):
        raise ValueError(f"--out {out}: the video must end in .gif or .mp4")
    shape = match.env.state_space.shape[:2]  # the board alone: the HUD's panel adds little
    check_frames(shape, args.tile, args.episodes * (match.scenario.max_cycles + 1), f"arena watch {out}")
    shot_view = View(overlay=args.overlay, speed=args.speed)
    shot = None
    frames = []
    for k in range(args.episodes):
        if k:
            match.reset(args.seed + k)
        if k == 0 and args.screenshot_at is not None:
            # the video up to the screenshot's step, the shot itself, then the rest
            frames += episode_frames(match, tile=args.tile, overlay=args.overlay, until=args.screenshot_at)
            match.plan()
            shot = frame(match, shot_view, args.tile)
        frames += episode_frames(match, tile=args.tile, overlay=args.overlay)
        returns = "  ".join(f"{a}={r:+.2f}" for a, r in zip(match.agents, match.returns, strict=True))
        print(f"episode {k} seed {match.seed}: {match.outcome()}  ({returns})")
        if args.record:
            print(f"recorded {match.save(record_path(Path(args.record), k))}")
    video = save_video(frames, out, args.speed)
    print(f"wrote {video} ({len(frames)} frames)")
    if args.screenshot:
        shot = frame(match, shot_view, args.tile) if shot is None else shot
        print(f"wrote {save_png(shot, args.screenshot)}")
    return 0
