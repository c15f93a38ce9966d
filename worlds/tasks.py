"""Task generator: endless, seeded streams of tasks drawn from families of scenarios.

`tasks(family, split="train", seed=0)` yields `Task`s forever: `next(tasks("maze"))` is one maze
task, `itertools.islice(tasks("all", "test"), 20)` twenty held-out tasks of every family. The
same `(family, split, seed)` always gives the same stream; each split and family draws from its
own generator (`np.random.default_rng([seed, split index, crc32(family)])`).

A task is one reproducible level, not a config whose every reset draws a new map: its config
sets the scenario's `layout_seed` (= `Task.seed`, the task's identity), so every episode and
every world of the task starts from the same layout (terrain, goals, plates and spawns alike;
see `worlds.engine.reset`). Variety within a task comes from the agents' own choices; variety
across tasks from the stream. `make_parallel()`, `make_batch(B)` and `make_scenario()` build it,
with keyword overrides (`render_mode=`, `seed=`, `max_cycles=`, ...).

Families and their knobs (`difficulty` is the mean of the knobs' ranks, each scaled to [0, 1]
so that larger, more walled-in, more crowded tasks score higher; hunters count the other way):

* `maze` (maze_v0): size 7/9/11/13; style open, rooms or maze (walls, most to least: maze with
  `loops` 0.0, 0.1, 0.2, 0.3, then rooms, then open); 1-3 agents. `max_cycles` = 3 size^2.
* `plates` (plates_v0): size 5-9; 1-4 agents (and as many plates). `max_cycles` = 30 size.
* `tag` (tag_v0): size 7/9/11; style open, rooms or maze; 1-3 hunters, 1-3 runners.
  `max_cycles` = 12 size.

Splits. `"test"` is held out twice over:

* layouts: train tasks take layout seeds in [0, 10^6), test tasks in [10^6, 2 10^6);
* combinations: each family names knob combinations that only the test split draws (rejection
  sampling from the family's knobs, by its `held_out` rule), so a test config is never a train
  config even without its seed: maze (size, style) (11, rooms) and (13, open), and maze loops
  0.2; plates (agents, size) (1, 7), (2, 8), (3, 6) and (4, 9); tag (hunters, runners) (1, 3)
  and (3, 2), and (size, style) (9, maze).

Adding a family is one entry in `FAMILIES`: a function `(rng, split) -> (scenario name, config,
difficulty)` that draws its knobs through `draw_split`. `"all"` goes round the families in
`FAMILIES` order. A label is the family, the config's knobs and `@seed`: `maze-9-rooms-a2@48213`,
`tag-9-maze-a4-h2@1520977` (4 agents of whom 2 hunters).

(`worlds.tasks` is this module's `tasks` function; import the rest with `from worlds.tasks
import Task, FAMILIES`.)
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import count

import numpy as np

from worlds.batch import BatchEnv
from worlds.env import GridParallelEnv
from worlds.registry import make_batch, make_parallel, make_scenario
from worlds.scenario import Scenario

SPLITS = ("train", "test")
LAYOUT_SEEDS = {"train": (0, 10**6), "test": (10**6, 2 * 10**6)}  # [low, high) per split


@dataclass(frozen=True)
class Task:
    """One task: a scenario, its config (layout pinned by `layout_seed`) and where it came from."""

    family: str  # "maze", "plates", "tag", ...
    scenario: str  # the registered name, "maze_v0"
    config: dict = field(hash=False)  # keyword args of the scenario, `layout_seed` included
    split: str  # "train" or "test"
    seed: int  # the task's identity: its layout seed
    difficulty: float  # in [0, 1], monotone in the family's knobs
    label: str  # readable and unique: "maze-9-rooms-a2@48213"

    def make_scenario(self, **overrides) -> Scenario:
        return make_scenario(self.scenario, **{**self.config, **overrides})

    def make_parallel(self, **kwargs) -> GridParallelEnv:
        """A PettingZoo ParallelEnv; kwargs as for `worlds.make_parallel` (config overrides too)."""
        return make_parallel(self.scenario, **{**self.config, **kwargs})

    def make_batch(self, num_worlds: int, **kwargs) -> BatchEnv:
        """`num_worlds` copies of the task stepped together; kwargs as for `worlds.make_batch`."""
        return make_batch(self.scenario, num_worlds, **{**self.config, **kwargs})


Family = Callable[[np.random.Generator, str], tuple[str, dict, float]]


def tasks(family: str, split: str = "train", seed: int = 0) -> Iterator[Task]:
    """An endless stream of `family`'s tasks (`"all"`: every family in turn) from `split`."""
    if family != "all" and family not in FAMILIES:
        raise ValueError(f"unknown task family {family!r}; known: {', '.join([*FAMILIES, 'all'])}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    # The family's name in the seed too, so no two families' streams run in step.
    rng = np.random.default_rng([seed, SPLITS.index(split), zlib.crc32(family.encode())])
    return _stream(family, split, rng)


def _stream(family: str, split: str, rng: np.random.Generator) -> Iterator[Task]:
    names = list(FAMILIES) if family == "all" else [family]
    for k in count():
        name = names[k % len(names)]
        scenario, config, difficulty = FAMILIES[name](rng, split)
        seed = int(rng.integers(*LAYOUT_SEEDS[split]))
        config = {**config, "layout_seed": seed}
        yield Task(name, scenario, config, split, seed, round(float(difficulty), 3), label(name, config))


def draw_split(
    rng: np.random.Generator, split: str, draw: Callable[[], dict], held_out: Callable[[dict], bool]
) -> dict:
    """Draw configs until one belongs to `split`: held-out ones to "test", the rest to "train"."""
    for _ in range(10_000):
        config = draw()
        if held_out(config) == (split == "test"):
            return config
    raise RuntimeError(f"no {split} config drawn in 10000 tries: is the held_out rule too strict?")


def pick(rng: np.random.Generator, options: Sequence):
    """One of `options`, as the plain Python value (numpy's `choice` would hand back numpy types)."""
    return options[int(rng.integers(len(options)))]


def rank(value, options: Sequence) -> float:
    """`value`'s place among `options`, scaled to [0, 1]."""
    return options.index(value) / max(1, len(options) - 1)


# -- families ------------------------------------------------------------------------------------
MAZE_SIZES, MAZE_LOOPS = (7, 9, 11, 13), (0.3, 0.2, 0.1, 0.0)  # loops: fewest walls first
STYLES = ("open", "rooms", "maze")


def maze(rng: np.random.Generator, split: str) -> tuple[str, dict, float]:
    def draw() -> dict:
        config = {"size": pick(rng, MAZE_SIZES), "style": pick(rng, STYLES)}
        if config["style"] == "maze":
            config["loops"] = pick(rng, MAZE_LOOPS)
        return config | {"num_agents": pick(rng, (1, 2, 3))}

    def held_out(c: dict) -> bool:
        return (c["size"], c["style"]) in {(11, "rooms"), (13, "open")} or c.get("loops") == 0.2

    config = draw_split(rng, split, draw, held_out)
    config["max_cycles"] = 3 * config["size"] ** 2
    if config["style"] == "maze":  # the maze's walls, thinned out by its loops
        walls = (2 + rank(config["loops"], MAZE_LOOPS)) / 3
    else:
        walls = STYLES.index(config["style"]) / 3
    knobs = (rank(config["size"], MAZE_SIZES), walls, rank(config["num_agents"], (1, 2, 3)))
    return "maze_v0", config, float(np.mean(knobs))


PLATES_SIZES = (5, 6, 7, 8, 9)


def plates(rng: np.random.Generator, split: str) -> tuple[str, dict, float]:
    def draw() -> dict:
        return {"size": pick(rng, PLATES_SIZES), "num_agents": pick(rng, (1, 2, 3, 4))}

    def held_out(c: dict) -> bool:
        return (c["num_agents"], c["size"]) in {(1, 7), (2, 8), (3, 6), (4, 9)}

    config = draw_split(rng, split, draw, held_out)
    config["max_cycles"] = 30 * config["size"]
    knobs = (rank(config["size"], PLATES_SIZES), rank(config["num_agents"], (1, 2, 3, 4)))
    return "plates_v0", config, float(np.mean(knobs))


TAG_SIZES = (7, 9, 11)


def tag(rng: np.random.Generator, split: str) -> tuple[str, dict, float]:
    def draw() -> dict:
        hunters, runners = pick(rng, (1, 2, 3)), pick(rng, (1, 2, 3))
        return {"size": pick(rng, TAG_SIZES), "style": pick(rng, STYLES),
                "num_agents": hunters + runners, "num_hunters": hunters}  # fmt: skip

    def held_out(c: dict) -> bool:
        teams = (c["num_hunters"], c["num_agents"] - c["num_hunters"])
        return teams in {(1, 3), (3, 2)} or (c["size"], c["style"]) == (9, "maze")

    config = draw_split(rng, split, draw, held_out)
    config["max_cycles"] = 12 * config["size"]
    hunters, runners = config["num_hunters"], config["num_agents"] - config["num_hunters"]
    knobs = (
        rank(config["size"], TAG_SIZES),
        rank(config["style"], STYLES),
        rank(runners, (1, 2, 3)),
        1 - rank(hunters, (1, 2, 3)),  # more hunters: easier for the hunters (the first team)
    )
    return "tag_v0", config, float(np.mean(knobs))


def from_scenario(name: str) -> Family:
    """The family a Worlds II scenario module declares with its `task_family(rng, split) ->
    (config, difficulty)`; its difficulty (any scale, 0 easiest) is squashed into [0, 1)."""
    from worlds.registry import SCENARIOS

    declare = SCENARIOS[name].task_family

    def family(rng: np.random.Generator, split: str) -> tuple[str, dict, float]:
        config, difficulty = declare(rng, split)
        return name, config, float(difficulty / (1.0 + difficulty))

    family.__name__ = name.removesuffix("_v0")
    return family


FAMILIES: dict[str, Family] = {
    "maze": maze,
    "plates": plates,
    "tag": tag,
    "forage": from_scenario("forage_v0"),
    "flags": from_scenario("flags_v0"),
    "harvest": from_scenario("harvest_v0"),
    "keys": from_scenario("keys_v0"),
    "signal": from_scenario("signal_v0"),
}

# Short names of knobs in labels (other knobs show as `NAMEvalue`, strings as themselves).
_SHORT = {"size": "", "num_agents": "a", "num_hunters": "h", "loops": "l"}
_NOT_IN_LABEL = ("max_cycles", "layout_seed")  # derived from the other knobs / after the "@"


def label(family: str, config: dict) -> str:
    """`maze-9-rooms-a2@48213`: the family, its knobs, `@` and the layout seed."""
    parts = [
        value if isinstance(value, str) else f"{_SHORT.get(key, key)}{value}"
        for key, value in config.items()
        if key not in _NOT_IN_LABEL
    ]
    return "-".join([family, *parts]) + f"@{config['layout_seed']}"
