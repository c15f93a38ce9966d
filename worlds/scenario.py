"""What every scenario shares: its config fields, action set, agent names and teams.

A scenario is a frozen config dataclass whose methods are the scenario's own rules. The engine
(`worlds.engine`) calls them with batched state; subclasses override `layouts` (the maps of a
batch of new episodes, built for all of them at once) or `layout` (the map of one, drawn world
by world), `judge` (rewards and terminations after the moves) and, for interactions,
`interact` and `interaction_mask`.

Scenarios with more than terrain and positions (inventories, messages, levels, freezing) keep
their own arrays in `State.extra` (declared by the `Layout.extra` of their `layout`), may take
agents off the board for a while (`present`), add view channels (`extra_channels`,
`fill_views`), Dict observation entries (`extra_spaces`, `extra_observations`) and text-view
lines (`status_words`). The defaults leave the first three scenarios exactly as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from worlds.cells import CHAR_OF, CLASSIC_CELLS, FLOOR, GATE, GOAL, NAME_OF, OPEN_GATE, PLATE, WALL
from worlds.config import validate
from worlds.maps import GridMap, MapError, load_map

if TYPE_CHECKING:
    from worlds.seeding import Draws

NOOP, NORTH, SOUTH, EAST, WEST = range(5)
MOVES = ("noop", "north", "south", "east", "west")
# (d_row, d_col) per move; north is up (row - 1).
DELTAS = np.array([(0, 0), (-1, 0), (1, 0), (0, 1), (0, -1)], dtype=np.int32)


@dataclass(frozen=True)
class Layout:
    """One episode's start: the map and where each agent stands and heads. From `layout`, one
    world's; from `layouts`, a batch's: the same fields with a leading batch dimension K."""

    terrain: np.ndarray  # uint8[H, W] (batch: [K, H, W])
    pos: np.ndarray  # int[N, 2] ([K, N, 2])
    goal: np.ndarray  # int[N, 2], (-1, -1) where an agent has no goal of its own ([K, N, 2])
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # the scenario's own arrays ([K, ...])


def stack_layouts(layouts: Sequence[Layout]) -> Layout:
    """The batch Layout of one-world layouts (world k is `layouts[k]`)."""
    first = layouts[0]
    return Layout(
        np.stack([lay.terrain for lay in layouts]),
        np.stack([lay.pos for lay in layouts]),
        np.stack([lay.goal for lay in layouts]),
        {name: np.stack([lay.extra[name] for lay in layouts]) for name in first.extra},
    )


SPRITES = ("flag", "carried_flag", "carried_key", "bubble", "level", "frozen")


@dataclass(frozen=True)
class Sprite:
    """Something the renderer draws over a cell besides terrain and agent bodies: a `flag` on
    the ground, a `carried_flag` or `carried_key` badge on an agent, a speech `bubble` with a
    short `label`, a `level` number badge, a `frozen` agent's frost (kinds: `SPRITES`)."""

    row: int
    col: int
    kind: str
    colour: tuple[int, int, int] = (255, 255, 255)
    label: str = ""


@dataclass(frozen=True)
class Scenario:
    num_agents: int = 1
    view_size: int = 7
    max_cycles: int = 100
    map: str | None = None  # a map file (path or name in assets/maps); overrides generator options
    # Pins the start: every episode (and every world) draws its layout from this seed instead of
    # the episode's rng, so a task (`worlds.tasks`) is one fixed level. None: a new one per episode.
    layout_seed: int | None = None

    name: ClassVar[str] = "scenario"
    team_names: ClassVar[tuple[str, ...]] = ("agents",)
    interactions: ClassVar[tuple[str, ...]] = ()
    num_cells: ClassVar[int] = CLASSIC_CELLS  # cell codes its views use (one-hot width)
    extra_channels: ClassVar[tuple[int, ...]] = ()  # codes of each view channel after the three
    legend_cells: ClassVar[tuple[int, ...]] = (WALL, FLOOR, GOAL, PLATE, GATE, OPEN_GATE)  # text legend
    # (low, high) of fields, merged along subclasses and checked by `worlds.config.validate`
    limits: ClassVar[dict[str, tuple]] = {
        "num_agents": (1, 10),
        "view_size": (3, 31),
        "max_cycles": (1, 100_000),
    }

    def __post_init__(self) -> None:
        validate(self)
        if not 1 <= self.num_agents <= 10:
            raise ValueError(f"{self.name}: num_agents must be 1..10, got {self.num_agents}")
        if self.view_size < 3 or self.view_size % 2 == 0:
            raise ValueError(f"{self.name}: view_size must be odd and >= 3, got {self.view_size}")
        if self.max_cycles < 1:
            raise ValueError(f"{self.name}: max_cycles must be >= 1, got {self.max_cycles}")
        if self.layout_seed is not None and self.layout_seed < 0:
            raise ValueError(f"{self.name}: layout_seed must be >= 0 or None, got {self.layout_seed}")

    # -- identity ---------------------------------------------------------------------------
    @property
    def actions(self) -> tuple[str, ...]:
        return MOVES + self.interactions

    @cached_property
    def teams(self) -> np.ndarray:
        """Team index of each agent, int[N]."""
        return np.zeros(self.num_agents, dtype=np.int64)

    @cached_property
    def agent_names(self) -> list[str]:
        counts = [0] * len(self.team_names)
        names = []
        for team in self.teams:
            names.append(f"{self.team_names[team].rstrip('s')}_{counts[team]}")
            counts[team] += 1
        return names

    @cached_property
    def grid_map(self) -> GridMap | None:
        """The `map` file, parsed; its cells must be ones this scenario knows (`legend_cells`)."""
        if not self.map:
            return None
        grid = load_map(self.map)
        foreign = np.flatnonzero(~np.isin(grid.terrain, self.legend_cells))
        if len(foreign):
            row, col = divmod(int(foreign[0]), grid.terrain.shape[1])
            cell = int(grid.terrain[row, col])
            raise MapError(
                grid.source, row + 1, col + 1, f"{self.name} has no {NAME_OF[cell]} ({CHAR_OF[cell]!r})"
            )
        return grid

    @property
    def pad(self) -> int:
        return self.view_size // 2

    # -- rules (batched over worlds) ---------------------------------------------------------
    def layouts(self, draws: Draws) -> Layout:
        """The starts of K new episodes, one per world of `draws`, as one batch Layout. The
        engine calls it once per reset for every world that needs a new layout. Scenarios that
        build all K at once draw from `draws.uniform` / `draws.words` (counter-based, one row per
        world); by default each world's layout comes from `layout` with the world's own
        generator, one world after another."""
        return stack_layouts([self.layout(rng) for rng in draws.rngs()])

    def layout(self, rng: np.random.Generator) -> Layout:
        """One world's start, drawn from its own generator (see `layouts`)."""
        raise NotImplementedError(f"{self.name} lays out its worlds in batches: call layouts()")

    def interact(self, state, actions: np.ndarray) -> dict[str, np.ndarray]:
        """Interactions that happen before anyone moves; returns event arrays. `actions` is the
        engine's own int64 copy for this step, which the moves then read: setting an agent's
        entry to NOOP here cancels its move (flags_v0's tagged agents)."""
        return {}

    def interaction_mask(self, state) -> np.ndarray:
        """Which interactions each agent may use now, bool[B, N, len(interactions)]."""
        return np.zeros((*state.alive.shape, len(self.interactions)), dtype=bool)

    def can_move(self, state) -> np.ndarray | None:
        """Which agents may move now, bool[B, N] (their moves are masked otherwise; noop and
        interactions are not affected), or None for everyone the terrain lets through."""
        return None

    def judge(self, state, actions: np.ndarray, events: dict) -> tuple[np.ndarray, np.ndarray]:
        """Rewards float32[B, N] and terminations bool[B, N] once the moves are done."""
        raise NotImplementedError

    # -- what agents perceive beyond the shared view ------------------------------------------
    @property
    def view_codes(self) -> tuple[int, ...]:
        """How many codes each view channel takes: cell, who, goal, then the scenario's own."""
        return (self.num_cells, 4, 3, *self.extra_channels)

    def present(self, state) -> np.ndarray:
        """Who is on the board, bool[B, N]: acts, moves, blocks and is seen. Agents can be off
        it for a while and still in the game (harvest_v0's frozen ones). Default: `alive`."""
        return state.alive

    def fill_views(self, state, present: np.ndarray, views: np.ndarray) -> None:
        """Write the `extra_channels` of `views` uint8[B, N, V, V, 3 + E] (the first three are
        written already)."""

    def extra_spaces(self) -> dict:
        """Gymnasium spaces of the Dict observation's entries beyond `view` and `action_mask`."""
        return {}

    def extra_observations(self, state) -> dict[str, np.ndarray]:
        """Those entries for every agent, each array [B, N, ...]."""
        return {}

    def sprites(self, state, world: int) -> list[Sprite]:
        """What world `world` shows beyond terrain and agents (flags, carried keys, messages,
        levels, frost), for the renderer."""
        return []

    def status_words(self, state, world: int, agent: int) -> list[str]:
        """Lines the text view adds about the agent's own situation (carrying, heard, frozen)."""
        return []

    def goal_words(self, agent: int) -> str:
        """The agent's goal in plain words, for the text view."""
        return "reach your goal"

    def success(self, terminated: np.ndarray) -> np.ndarray:
        """Whether episodes count as a success, bool[B], from which agents terminated (rather
        than being truncated), bool[B, N]. By default: every agent terminated."""
        return terminated.all(-1)
