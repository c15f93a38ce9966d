"""A league's players as controllers, each batch of matches starting them afresh.

A controller can carry something from one batch to the next (its random generator, a planner's
memory of the worlds it acted in), so a match would play out differently depending on the
batches played before it on that machine. Every batch therefore starts each player fresh:
scripted players (`random`, `planner`) are built anew, loaded ones (checkpoints, language models:
slow to load) keep their weights and get a new generator; both are seeded from the player's seed
and the first game of the batch. A batch then plays the same wherever and whenever it is played:
in one process, or on any Ray worker (`arena.league.remote`), so the ladder gets the same rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from arena.league import schedule
from arena.league.play import make_player_controller
from arena.league.schedule import Game
from worlds.scenario import Scenario


def player_seed(seed: int, name: str) -> int:
    """A player's own seed, from the league's seed and its name."""
    return int(np.random.SeedSequence([seed, schedule._word(name)]).generate_state(1)[0])


def batch_seed(seed: int, first_game_seed: int) -> int:
    return int(np.random.SeedSequence([seed, first_game_seed]).generate_state(1)[0])


def is_loaded(spec: str) -> bool:
    """A controller kept between batches: a checkpoint file or a language model."""
    return Path(spec).is_file() or spec.partition(":")[0] == "lm"


def team_specs(spec: str) -> list[tuple[str, str]] | None:
    """`hunters=A,runners=B` -> [(hunters, A), (runners, B)]; None for one controller."""
    if "," not in spec and "=" not in spec:
        return None
    return [(team, one) for team, _, one in (part.partition("=") for part in spec.split(","))]


class Roster:
    """Every player of a league, built (and so checked) once; `for_batch` hands them out fresh."""

    def __init__(self, players: dict[str, str], scenario: Scenario, seed: int, device: str = "auto"):
        self.players, self.scenario, self.device = players, scenario, device
        self.seeds = {name: player_seed(seed, name) for name in players}
        self.controllers = {
            name: make_player_controller(spec, scenario, self.seeds[name], device)
            for name, spec in players.items()
        }

    def for_batch(self, games: list[Game]) -> dict[str, object]:
        """The controllers of the batch's entries, as fresh as at the league's start."""
        first = games[0].seed
        return {
            name: self._fresh(self.players[name], self.controllers[name], batch_seed(self.seeds[name], first))
            for name in dict.fromkeys(games[0].entries)
        }

    def _fresh(self, spec: str, controller, seed: int):
        if isinstance(controller, dict):  # one controller per team, seeded seed + k as when built
            return {
                team: self._fresh(one, controller[team], seed + k)
                for k, (team, one) in enumerate(team_specs(spec))
            }
        if not is_loaded(spec):
            return make_player_controller(spec, self.scenario, seed, self.device)
        if isinstance(getattr(controller, "rng", None), np.random.Generator):
            controller.rng = np.random.default_rng(seed)
        return controller
