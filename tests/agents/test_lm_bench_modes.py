"""`arena lm bench --mode generate`: decisions/s of a generating seat (figures only)."""

from __future__ import annotations

import pytest

from arena.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def test_bench_of_a_generating_seat_prints_its_table(capsys):
    options = "--mode generate --max-tokens 2 --batches 1,3 --seconds 0.05 --device cpu".split()
    assert main(["lm", "bench", *options]) == 0
    out = capsys.readouterr().out
    assert "answers of at most 2 tokens" in out and "tokens/answer" in out and "fallbacks" in out
    rows = [line.split("|") for line in out.splitlines() if line.strip().startswith(("1 |", "3 |"))]
    assert [int(r[0]) for r in rows] == [1, 3] and all(0 < float(r[6]) <= 2.0 for r in rows)
    assert "zero-shot success" not in out  # speed only
    assert main(["lm", "bench", "--mode", "generate", "--max-tokens", "0"]) == 2
