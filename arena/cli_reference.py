"""The CLI reference page, generated from the parsers themselves: `python -m arena.cli_reference
> docs/cli.md` (a test keeps the page in step with the code)."""

from __future__ import annotations

import argparse
import os

HEAD = """# Command-line reference

Every `arena` command and its options, as `--help` prints them (this page is generated from the
parsers: `python -m arena.cli_reference > docs/cli.md`). One vocabulary runs through them:
`--seat NAME=CONTROLLER` (a team or an agent), `--config KEY=VALUE` (a scenario option, also
`SCENARIO:KEY=VALUE`), `--hp KEY=VALUE` (a hyper-parameter), `--steps` (env steps), `--worlds`
(batch worlds), `--episodes`, `--seed`, `--threads`, `--out`, `--json`.
"""


def commands(parser: argparse.ArgumentParser, name: str = "arena"):
    """(name, parser) of every command and subcommand, depth first, in the order they were added."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                yield from commands(child, f"{name} {sub}")


def reference() -> str:
    os.environ["COLUMNS"] = "100"  # the same line width on every terminal
    parts = [HEAD]
    from arena.cli import build_parser

    for name, parser in commands(build_parser()):
        parser.prog = name
        parts.append(f"## `{name}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(reference(), end="")
