"""Record files: one episode as its seed, its scenario config and every action, small and versioned.

A record is a compressed npz written atomically. `meta` is a JSON string (format, version,
scenario name and config, seed, agent and action names, who sat in each seat and when, and a
summary of how it ended); the arrays are:

    actions        int8[T, N]      the action each agent took at each step, -1 when out of the game
    digest         uint32[T + 1]   a checksum of the world state before each step and after the last
    think_kind     uint8[T, N]     0 none, 1 action probabilities, 2 action values (only if any)
    think_values   float32[T, N, A] what each controller thought, nan where it said nothing (ditto)

and `extras`, a JSON string of [step, agent, {...}] for the rest of a controller's thoughts (a
language model's words). Replaying re-runs the engine from the seed with the recorded actions;
the digests prove it went the same way. A tag_v0 episode of 100 steps is about 2 KB.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from arena.episode import write_atomic
from worlds.scenario import Scenario
from worlds.state import State

FORMAT = "grid-arena-replay"
VERSION = 1


class ReplayError(ValueError):
    """A record file that cannot be replayed: corrupt, of another version, or diverging."""


def scenario_config(scenario: Scenario) -> dict:
    """The scenario's config as plain JSON values (enough to rebuild it with make_scenario)."""
    return {f.name: getattr(scenario, f.name) for f in dataclasses.fields(scenario)}


def state_digest(state: State, world: int = 0) -> int:
    """A crc32 of one world's state: terrain (gates open), positions, who is in, the clock, and
    the scenario's own arrays (in name order)."""
    crc = 0
    for array in (state.terrain[world], state.pos[world], state.alive[world], state.t[world : world + 1]):
        crc = zlib.crc32(np.ascontiguousarray(array).tobytes(), crc)
    for name in sorted(state.extra):
        crc = zlib.crc32(np.ascontiguousarray(state.extra[name][world]).tobytes(), crc)
    return crc


@dataclass
class EpisodeLog:
    """Everything a record holds; a match appends to it as it plays, `load_record` reads one."""

    scenario: str
    config: dict
    seed: int
    agents: list[str]
    action_names: list[str]
    actions: list = field(default_factory=list)  # per step int8[N]
    think_kind: list = field(default_factory=list)  # per step uint8[N]
    think_values: list = field(default_factory=list)  # per step float32[N, A]
    digests: list = field(default_factory=list)  # per state, ints
    seats: list = field(default_factory=list)  # [step, agent, label]: who drove it from then on
    extras: list = field(default_factory=list)  # [step, agent, {...}]
    summary: dict = field(default_factory=dict)
    fps: float = 6.0

    @classmethod
    def start(cls, match) -> EpisodeLog:
        log = cls(
            scenario=match.scenario.name,
            config=dict(match.config),
            seed=int(match.seed),
            agents=list(match.agents),
            action_names=list(match.scenario.actions),
            fps=float(match.env.metadata["render_fps"]),
        )
        if match.seating is not None:
            log.seats = [[0, i, match.seating.label(i)] for i in range(len(log.agents))]
        log.digests.append(state_digest(match.world))
        return log

    @property
    def steps(self) -> int:
        return len(self.actions)

    def seat(self, step: int, agent: int, label: str) -> None:
        self.seats.append([int(step), int(agent), label])

    def record(self, match, chosen: np.ndarray) -> None:
        """The actions about to be taken from the current state, and what was thought of them."""
        self.actions.append(chosen.astype(np.int8))
        self.think_kind.append(match.think_kind.copy())
        self.think_values.append(match.think_values.copy())
        for agent, extras in sorted(match.think_extras.items()):
            if extras:
                self.extras.append([len(self.actions) - 1, int(agent), extras])

    def after_step(self, match) -> None:
        self.digests.append(state_digest(match.world))

    def labels_at(self, step: int) -> list[str]:
        """Who drove each agent at `step`, from the seat changes."""
        labels = [""] * len(self.agents)
        for when, agent, label in self.seats:
            if when <= step:
                labels[agent] = label
        return labels

    def extras_at(self, step: int) -> dict[int, dict]:
        return {agent: extras for when, agent, extras in self.extras if when == step}


def save_record(path: str | Path, log: EpisodeLog) -> Path:
    """Writes `log` to `path` atomically (a compressed npz, whatever the file is called)."""
    n, a = len(log.agents), len(log.action_names)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "scenario": log.scenario,
        "config": log.config,
        "seed": log.seed,
        "agents": log.agents,
        "actions": log.action_names,
        "steps": log.steps,
        "seats": log.seats,
        "summary": log.summary,
        "fps": log.fps,
    }
    arrays = {
        "meta": np.array(json.dumps(meta)),
        "actions": np.array(log.actions, dtype=np.int8).reshape(log.steps, n),
        "digest": np.array(log.digests, dtype=np.uint32),
    }
    kinds = np.array(log.think_kind, dtype=np.uint8).reshape(log.steps, n)
    if kinds.any():  # most scripted matches think nothing worth keeping
        arrays["think_kind"] = kinds
        arrays["think_values"] = np.array(log.think_values, dtype=np.float32).reshape(log.steps, n, a)
    if log.extras:
        arrays["extras"] = np.array(json.dumps(log.extras))

    def write(tmp):
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz" to the name
            np.savez_compressed(f, **arrays)

    return write_atomic(path, write)


def load_record(path: str | Path) -> EpisodeLog:
    """Reads a record; a ReplayError says clearly what is wrong with a bad file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no record file {path}")
    if not zipfile.is_zipfile(path):  # a record is an npz (a zip); say so rather than numpy's guess
        raise ReplayError(
            f"{path} is not a readable Grid Arena record (not a whole npz file: cut short, or not a record)"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as err:
        raise ReplayError(f"{path} is not a readable Grid Arena record ({err})") from None
    if "meta" not in arrays:
        raise ReplayError(f"{path} is not a Grid Arena record (it has no meta entry)")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as err:
        raise ReplayError(f"{path}: its meta entry is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ReplayError(f"{path} is not a Grid Arena record (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise ReplayError(
            f"{path} is a version {meta.get('version')!r} record; this Grid Arena reads version {VERSION}"
        )
    try:
        return _from_arrays(meta, arrays)
    except (KeyError, TypeError, ValueError) as err:
        raise ReplayError(f"{path} is corrupt: {err}") from None


def _from_arrays(meta: dict, arrays: dict) -> EpisodeLog:
    agents, action_names, steps = list(meta["agents"]), list(meta["actions"]), int(meta["steps"])
    n, a = len(agents), len(action_names)
    actions = arrays["actions"]
    if actions.shape != (steps, n):
        raise ValueError(f"actions have shape {actions.shape}, expected ({steps}, {n})")
    if actions.size and (actions.min() < -1 or actions.max() >= a):
        raise ValueError(f"an action is outside -1..{a - 1}")
    digest = arrays["digest"]
    if digest.shape != (steps + 1,):
        raise ValueError(f"digest has shape {digest.shape}, expected ({steps + 1},)")
    kinds = arrays.get("think_kind", np.zeros((steps, n), np.uint8))
    values = arrays.get("think_values", np.full((steps, n, a), np.nan, np.float32))
    if kinds.shape != (steps, n) or values.shape != (steps, n, a):
        raise ValueError(f"thinking arrays have shapes {kinds.shape} and {values.shape}")
    extras = json.loads(str(arrays["extras"])) if "extras" in arrays else []
    return EpisodeLog(
        scenario=str(meta["scenario"]),
        config=dict(meta["config"]),
        seed=int(meta["seed"]),
        agents=agents,
        action_names=action_names,
        actions=actions,
        think_kind=kinds,
        think_values=values,
        digests=digest.astype(np.int64).tolist(),
        seats=[list(s) for s in meta.get("seats", [])],
        extras=extras,
        summary=dict(meta.get("summary", {})),
        fps=float(meta.get("fps", 6.0)),
    )
