"""Grid Arena's speed benchmark: `python -m benchmarks.engine [--quick] [--no-peers]`, as `arena bench`."""

from __future__ import annotations

import argparse

from arena.bench import add_arguments, bench, run

__all__ = ["main", "run"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__)
    add_arguments(parser)
    bench(parser.parse_args(argv))


if __name__ == "__main__":
    main()
