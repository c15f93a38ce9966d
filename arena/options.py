"""Command-line value types and limits shared by the `arena` commands."""

from __future__ import annotations

import argparse
import math

from worlds.errors import ConfigError

# Frames kept in memory for one video: above this a command fails early (or scales down).
MAX_FRAME_BYTES = 2 << 30


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seed_int(text: str) -> int:
    """A seed: a whole number >= 0 (argparse names the option in its error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed is a whole number >= 0, got {value}")
    return value


def threads_int(text: str) -> int:
    """`--threads`: torch CPU threads, at least 1."""
    return positive_int(text)


def add_threads_option(parser, default: int | None = 1) -> None:
    """`--threads N`, the same on every command that runs torch: one thread by default, since
    two threads collapse when the machine is busy (docs/speed.md)."""
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=default,
        help=f"torch CPU threads (default {default or 'torch' + chr(39) + 's'})",
    )


def set_threads(n: int | None) -> None:
    """Apply `--threads` (None leaves torch's own default); imports torch only when asked."""
    if n is not None:
        import torch

        torch.set_num_threads(n)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def frame_stride(shape: tuple[int, int], tile: int, frames: int, budget: int = MAX_FRAME_BYTES) -> int:
    """The smallest pixel stride that keeps `frames` rgb frames of a `shape` map drawn with
    `tile`-pixel tiles within `budget` bytes (1: full size)."""
    size = shape[0] * tile * shape[1] * tile * 3 * frames
    return max(1, math.ceil(math.sqrt(size / budget)))


def check_frames(shape: tuple[int, int], tile: int, frames: int, what: str) -> None:
    """Refuse, before any frame is drawn, a video whose frames would not fit in memory."""
    size = shape[0] * tile * shape[1] * tile * 3 * frames
    if size > MAX_FRAME_BYTES:
        raise ConfigError(
            f"{what}: {frames} frames of a {shape[0]}x{shape[1]} map at {tile}-pixel tiles need "
            f"{size / 2**30:.1f} GiB, above the {MAX_FRAME_BYTES / 2**30:.0f} GiB limit; "
            "use a smaller --tile, a smaller map or fewer steps"
        )
