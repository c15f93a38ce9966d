"""A population's settings, checked in one place, and its checkpoint file.

`population.safetensors` holds the whole population after an interval: every member's state
(`member/<name>/...` tensors: worlds, learners, generators) and metadata (format, version, the
config, the progress: step, the driver's generator, each member's hyper-parameters and lineage,
the lineage events, the log's length). It is written atomically with its checksum by
`arena.training.runfile.write_run_file`, like a run checkpoint, and read back here with the
same checks; a damaged or foreign file stops with one line naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from agents.files import read_safetensors
from arena.population.space import check_share
from arena.training.run import MAX_THREADS, MAX_WORLDS
from arena.training.runfile import run_digest
from worlds.errors import BadFileError, ConfigError

POPULATION_FORMAT, POPULATION_VERSION = "grid-arena-population", "1"
CHECKPOINT = "population.safetensors"
MAX_MEMBERS = 256


@dataclass
class PopulationConfig:
    """Everything `arena train --population` needs to start (and, saved, to resume) a run."""

    scenario: str = "maze_v0"
    teams: dict[str, str] = field(default_factory=dict)  # team -> ppo|a2c|reinforce or a controller
    hyper: dict = field(default_factory=dict)  # --hp: fixed values, or LOW:HIGH ranges to search
    population: int = 4  # members
    worlds: int = 64  # per member
    steps: int = 100_000  # env steps per member
    seed: int = 0
    device: str = "auto"
    threads: int = 1  # torch CPU threads per member
    exploit_every: int | None = None  # env steps per member between exploit steps; None: steps/10
    exploit_share: float = 0.25  # the weakest share copies the strongest share
    resample_chance: float = 0.25  # explore: a copied value drawn afresh instead of x0.8 / x1.2
    log_every: int | None = None  # env steps between a member's train records; None: exploit_every/4
    eval_worlds: int = 32  # goal scenarios: evaluation episodes; two teams: games per pairing side
    eval_seed: int = 1_000_000
    eval_greedy: bool = False

    def __post_init__(self) -> None:
        ints = ("population", "worlds", "steps", "seed", "threads", "eval_worlds", "eval_seed")
        for key in (*ints, "exploit_every", "log_every"):
            value = getattr(self, key)
            if (value is not None or key in ints) and type(value) is not int:
                raise ConfigError(f"{key} must be a whole number, got {value!r}")
        for key in ("worlds", "steps", "threads", "eval_worlds"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        limits = (("population", MAX_MEMBERS), ("worlds", MAX_WORLDS), ("eval_worlds", MAX_WORLDS),
                  ("threads", MAX_THREADS))  # fmt: skip
        for key, high in limits:
            if getattr(self, key) > high:
                raise ConfigError(f"{key} must be at most {high}, got {getattr(self, key)}")
        if self.population < 2:
            raise ConfigError(f"population must be at least 2 members, got {self.population}")
        for key in ("exploit_every", "log_every"):
            value = getattr(self, key)
            if value is not None and value < self.worlds:
                raise ConfigError(f"{key} must be at least worlds ({self.worlds}) env steps, got {value}")
        self.exploit_share = check_share("exploit_share", self.exploit_share, 0.5)
        self.resample_chance = check_share("resample_chance", self.resample_chance, 1.0)
        if not isinstance(self.scenario, str):
            raise ConfigError(f"scenario must be a string, got {self.scenario!r}")
        teams = self.teams
        if not isinstance(teams, dict) or not all(isinstance(v, str) for v in [*teams, *teams.values()]):
            raise ConfigError(f"teams must be a table of team names to learners, got {teams!r}")
        if not isinstance(self.hyper, dict) or not all(isinstance(k, str) for k in self.hyper):
            raise ConfigError(f"hyper must be a table of hyper-parameters, got {self.hyper!r}")
        if not isinstance(self.eval_greedy, bool):
            raise ConfigError(f"eval_greedy must be true or false, got {self.eval_greedy!r}")

    def interval(self) -> int:
        """Env steps between exploit steps (and evaluations)."""
        return self.exploit_every or max(self.worlds, self.steps // 10)

    def log_interval(self) -> int:
        return self.log_every or max(self.worlds, self.interval() // 4)


@dataclass
class SavedPopulation:
    path: Path
    config: dict
    progress: dict
    tensors: dict


PROGRESS = {"step": int, "elapsed": (int, float), "log_offset": int, "rng": dict, "members": list,
            "lineage": list}  # fmt: skip
MEMBER = {"name": str, "searched": dict, "root": str, "data": dict}


def load_population(path: str | Path) -> SavedPopulation:
    """The population checkpoint at `path`, checked; a BadFileError naming it otherwise."""
    path = Path(path)
    if not path.exists():
        raise BadFileError(f"{path}: no population checkpoint to resume (start the run without --resume)")
    metadata, tensors = read_safetensors(path, "population checkpoint")
    if metadata.get("format") != POPULATION_FORMAT:
        raise BadFileError(
            f"{path}: not a grid-arena population checkpoint (format {metadata.get('format')!r})"
        )
    if metadata.get("version") != POPULATION_VERSION:
        raise BadFileError(
            f"{path}: population checkpoint version {metadata.get('version')!r}, "
            f"expected {POPULATION_VERSION!r}"
        )
    if metadata.get("sha256") != run_digest(tensors, metadata):
        raise BadFileError(
            f"{path}: corrupt population checkpoint (its contents do not match their checksum)"
        )
    try:
        config, progress = json.loads(metadata["config"]), json.loads(metadata["progress"])
    except (KeyError, json.JSONDecodeError) as err:
        raise BadFileError(f"{path}: population checkpoint metadata is damaged ({err})") from None
    if not isinstance(config, dict) or not isinstance(progress, dict):
        raise BadFileError(f"{path}: population checkpoint config and progress must be objects")
    _check(path, "progress", progress, PROGRESS)
    for entry in progress["members"]:
        if not isinstance(entry, dict):
            raise BadFileError(f"{path}: population checkpoint has a member entry {entry!r}")
        _check(path, "member", entry, MEMBER)
    return SavedPopulation(path, config, progress, tensors)


def _check(path: Path, what: str, data: dict, kinds: dict) -> None:
    for key, kind in kinds.items():
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise BadFileError(f"{path}: population checkpoint {what} {key!r} is {value!r}")
        if isinstance(value, (int, float)) and value < 0:
            raise BadFileError(f"{path}: population checkpoint {what} {key!r} is {value}, below 0")
