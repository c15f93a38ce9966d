"""The language-model benchmark: `python -m benchmarks.lm [arena lm bench options]`, as `arena lm bench`:
decisions/s of an LM seat at batch 1/16/64/256 and zero-shot success vs random and the planner."""

from __future__ import annotations

import argparse
import sys

from arena.lm.commands import add_parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lm", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["lm", "bench", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
