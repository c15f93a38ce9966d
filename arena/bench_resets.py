"""Reset throughput for `arena bench`: worlds given a new episode per second, per scenario.

A reset is what the batch env's auto-reset does for the worlds whose episode ended, before it
observes them: `engine.reset` draws their layouts (one `Scenario.layouts` call for all of them)
and builds their state. Measured here for whole batches of B worlds, each reset a new episode
in every world, so the figure is the cost of the layouts and nothing else.
"""

from __future__ import annotations

import worlds
from worlds import engine
from worlds.seeding import Seeds


class ResetRun:
    """`engine.reset` of B worlds of one scenario, again and again (each a new episode)."""

    period = 1  # resets between looks at the clock

    def __init__(self, name: str, num_worlds: int, seed: int = 0, **config):
        self.scenario = worlds.make_scenario(name, **config)
        self.seeds = Seeds(num_worlds, seed)
        self.contestant, self.kind = "grid-arena reset", "reset"
        self.num_worlds, self.num_agents = num_worlds, self.scenario.num_agents
        n = self.num_agents
        self.config = f"{name} B={num_worlds} {n} agent{'s' * (n > 1)}"

    def sample(self) -> None:
        """Nothing to choose: a reset takes no actions."""

    def step(self) -> tuple[int, int]:
        engine.reset(self.scenario, self.seeds)
        return self.num_worlds, self.num_worlds * self.num_agents


def format_resets(rows: list[dict]) -> str:
    """The reset rows as a table: worlds reset per second and microseconds per world."""
    head = ("resets", "worlds reset/s", "us/world")
    body = [(r["config"], f"{r['env_steps_per_s']:,.0f}", f"{1e6 / r['env_steps_per_s']:.1f}") for r in rows]
    widths = [max(len(line[k]) for line in [head, *body]) for k in range(len(head))]
    lines = []
    for line in [head, *body]:
        cells = [
            cell.ljust(w) if k == 0 else cell.rjust(w)
            for k, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append(" | ".join(cells))
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
