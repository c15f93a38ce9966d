"""Smoke test of the speed benchmark: it runs and reports sane figures (no timing thresholds)."""

from __future__ import annotations

import argparse
import math

from arena import bench


def test_tiny_run_reports_positive_finite_figures(capsys):
    rows = bench.run(peers=False, seconds=0.02, batch_sizes=(1, 4))
    kinds = [row["kind"] for row in rows]
    assert kinds.count("single") == len(bench.SINGLE)
    assert kinds.count("batch") == len(bench.BATCH) * 2
    assert kinds.count("reference") == 1
    assert kinds.count("reset") == len(bench.BATCH)  # every batch scenario's resets, at B = 4
    resets = [row for row in rows if row["kind"] == "reset"]
    assert all(row["num_worlds"] == 4 and "B=4" in row["config"] for row in resets)
    for row in rows:
        for key in ("env_steps_per_s", "agent_steps_per_s", "sampler_share"):
            assert math.isfinite(row[key]) and row[key] > 0, (row["config"], key)
        assert row["agent_steps_per_s"] >= row["env_steps_per_s"]
    batch = [row for row in rows if row["kind"] == "batch"]
    for row in batch:
        assert math.isclose(row["agent_steps_per_s"], row["env_steps_per_s"] * row["num_agents"])
    printed = capsys.readouterr().out
    assert "env-steps/s" in printed and "agent-steps/s" in printed and "numpy" in printed
    assert "speed goals (this run):" in printed and "not measured (MiniGrid skipped)" in printed
    assert "worlds reset/s" in printed and "us/world" in printed


def test_add_parser_registers_bench_with_its_flags():
    parser = argparse.ArgumentParser()
    bench.add_parser(parser.add_subparsers())
    args = parser.parse_args(["bench", "--quick", "--no-peers", "--no-resets"])
    assert args.func is bench.bench and args.quick and args.no_peers and args.no_resets
