"""Replays: re-run a record file's episode exactly, show it in the viewer or export a video.

A replay rebuilds the scenario from the record's config, resets it with the record's seed and
feeds the recorded actions (and what the controllers thought, for the overlay) through seats of
`Replayer`s; after every step the world's digest must equal the recorded one, else a
ReplayError says where it diverged. `arena replay FILE` opens the viewer (or writes a video when
there is no display); `arena export FILE --out x.gif|x.mp4` writes a video without a window.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import worlds
from agents.base import Observations, Thinking
from arena.episode import frame_ms, write_atomic
from arena.match import THINK_KINDS, Match
from arena.options import check_frames, positive_float, positive_int
from arena.records.record import EpisodeLog, ReplayError, load_record
from arena.seats import Seat, Seating


class Replayer:
    """Plays one agent's recorded actions and shows its recorded thoughts."""

    name = "replay"

    def __init__(self, log: EpisodeLog, agent: int):
        self.log, self.agent = log, agent
        self.t = 0

    @property
    def label(self) -> str:
        return self.log.labels_at(self.t)[self.agent] or "recorded"

    def act(self, obs: Observations) -> np.ndarray:
        self.t = int(obs.state.t[0])
        if self.t >= self.log.steps:
            raise ReplayError(f"the record ends at step {self.log.steps}")
        actions = np.asarray(self.log.actions[self.t])[obs.agent].astype(np.int64)
        if (actions < 0).any():
            raise ReplayError(
                f"the replay diverged from its record at step {self.t}: "
                f"{self.log.agents[self.agent]} is in the game but the record has no action for it"
            )
        return actions

    def thinking(self) -> Thinking | None:
        kind = int(self.log.think_kind[self.t][self.agent]) if self.t < self.log.steps else 0
        extras = self.log.extras_at(self.t).get(self.agent, {})
        if not kind and not extras:
            return None
        values = np.asarray(self.log.think_values[self.t][self.agent], dtype=np.float32)[None]
        return Thinking(THINK_KINDS[kind] or "probs", values, extras)


class ReplayMatch(Match):
    """A match whose every step is checked against the record's digests."""

    def __init__(self, log: EpisodeLog):
        self.record = log
        try:
            worlds.make_scenario(log.scenario, **log.config)
        except TypeError as err:
            raise ReplayError(f"the record's config does not fit {log.scenario} any more: {err}") from None
        seats = [Seat("replay", Replayer(log, i), [i]) for i in range(len(log.agents))]
        config = dict(log.config)
        super().__init__(log.scenario, config, None, seed=log.seed, max_steps=log.steps)
        if list(self.agents) != list(log.agents):
            raise ReplayError(f"the record's agents {log.agents} are not {self.agents} in {log.scenario} now")
        self.seating = Seating(self.scenario, seats)
        self._check(0)

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        if getattr(self, "seating", None) is not None:
            self._check(0)

    def step(self):
        rewards = super().step()
        self._check(self.steps)
        return rewards

    def _check(self, step: int) -> None:
        if self.log.digests[-1] != self.record.digests[step]:
            what = "start" if step == 0 else f"step {step}"
            raise ReplayError(
                f"the replay diverged from its record at its {what} (the engine or the scenario "
                "changed since it was recorded)"
            )


def replay_match(path: str | Path) -> ReplayMatch:
    return ReplayMatch(load_record(path))


def episode_frames(
    match: Match, tile: int = 48, hud: bool = True, overlay: bool = False, until: int | None = None
) -> list[np.ndarray]:
    """Every state of the match's episode from where it stands to the end (or to step
    `until`), as frames: the whole viewer without its keys, or the board alone."""
    if hud:
        from arena.viewer.hud import View, frame

        view = View(legend=False, overlay=overlay, replay=isinstance(match, ReplayMatch))
        draw = lambda m: frame(m, view, tile)  # noqa: E731
    else:
        draw = lambda m: m.board(tile)  # noqa: E731
    return match.play(draw, until)


def save_video(frames: list[np.ndarray], path: str | Path, fps: float) -> Path:
    """A GIF (always available) or an MP4 (needs the `video` extra: imageio-ffmpeg)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return save_gif_shared_palette(frames, path, fps)
    if suffix == ".mp4":
        return save_mp4(frames, path, fps)
    raise ValueError(f"cannot write {path.name}: the video must end in .gif or .mp4")


def save_gif_shared_palette(frames: list[np.ndarray], path: str | Path, fps: float) -> Path:
    """A GIF whose frames share one palette, taken from a sample of them: the viewer's frames
    hold a few hundred colours, and one palette is ~10x faster to apply than a palette per
    frame (Pillow's default) and makes a smaller file. The last frame is held 1.5 s."""
    from PIL import Image

    step = max(1, len(frames) // 8)
    sample = Image.fromarray(np.concatenate(frames[::step], axis=0))
    palette = sample.quantize(colors=255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    durations = [max(20, frame_ms(fps))] * (len(images) - 1) + [1500]  # GIF players floor at 20 ms

    def write(tmp):
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)

    return write_atomic(path, write)


def save_mp4(frames: list[np.ndarray], path: str | Path, fps: float) -> Path:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ValueError(
            "MP4 export needs imageio-ffmpeg: pip install -e '.[video]' (or write a .gif, which always works)"
        ) from None
    h, w = frames[0].shape[:2]
    H, W = h + h % 2, w + w % 2  # H.264 in yuv420p needs even sides

    def write(tmp):
        writer = imageio_ffmpeg.write_frames(
            tmp,
            (W, H),
            fps=fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            macro_block_size=1,
            output_params=["-movflags", "+faststart"],
            ffmpeg_log_level="error",
        )
        writer.send(None)
        padded = np.zeros((H, W, 3), dtype=np.uint8)
        for f in frames + [frames[-1]] * round(1.5 * fps):  # hold the last frame, as the GIF does
            padded[:h, :w] = f
            writer.send(padded.tobytes())
        writer.close()

    return write_atomic(path, write)


# -- the command line ---------------------------------------------------------------------------
def add_parser(sub) -> None:
    """Registers `arena replay` and `arena export`."""
    replay = sub.add_parser("replay", help="re-run a recorded episode in the viewer (deterministic)")
    replay.add_argument("file", help="a record written with --record")
    replay.add_argument(
        "--speed", type=positive_float, default=None, help="steps per second (default: recorded)"
    )
    replay.add_argument("--overlay", action="store_true", help="show recorded thoughts above agents")
    replay.add_argument("--headless", action="store_true", help="no window: write a video instead")
    replay.add_argument("--out", default=None, help="the video when headless (default out/NAME.gif)")
    replay.add_argument(
        "--tile", type=positive_int, default=48, help="video tile size in pixels (default 48)"
    )
    replay.set_defaults(func=replay_command)
    export = sub.add_parser("export", help="write a recorded episode as a GIF or MP4, without a window")
    export.add_argument("file", help="a record written with --record")
    export.add_argument("--out", required=True, help="the video: a .gif, or a .mp4 (needs the video extra)")
    export.add_argument(
        "--fps", type=positive_float, default=None, help="frames per second (default: recorded)"
    )
    export.add_argument("--tile", type=positive_int, default=48, help="tile size in pixels (default 48)")
    export.add_argument("--overlay", action="store_true", help="draw recorded thoughts above agents")
    export.add_argument("--board-only", action="store_true", help="the board alone, without the side panel")
    export.set_defaults(func=export_command)


def describe(log: EpisodeLog) -> str:
    outcome = log.summary.get("outcome") or "not finished"
    return f"{log.scenario} seed {log.seed}, {log.steps} steps: {outcome}"


def export_command(args) -> int:
    match = replay_match(args.file)
    check_frames(match.env.state_space.shape[:2], args.tile, match.record.steps + 1, args.out)
    frames = episode_frames(match, tile=args.tile, hud=not args.board_only, overlay=args.overlay)
    out = save_video(frames, args.out, args.fps or match.record.fps)
    print(f"{describe(match.record)}\nreplayed identically; wrote {out} ({len(frames)} frames)")
    return 0


def replay_command(args) -> int:
    from arena.viewer.window import display_available

    match = replay_match(args.file)
    print(describe(match.record))
    if args.headless or not display_available():
        out = args.out or f"out/{Path(args.file).name.split('.')[0]}.gif"
        if not args.headless:
            print("no display found: writing a video instead of opening a window", file=sys.stderr)
        check_frames(match.env.state_space.shape[:2], args.tile, match.record.steps + 1, out)
        frames = episode_frames(match, tile=args.tile)
        print(f"replayed identically; wrote {save_video(frames, out, args.speed or match.record.fps)}")
        return 0
    from arena.viewer.window import Viewer

    Viewer(match, speed=args.speed or match.record.fps, overlay=args.overlay, replay=True).run()
    return 0
