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

A record may come from a stranger, so `load_record` checks everything before it is used: the
scenario config goes through `worlds.config` (types, ranges, known keys), and its `map` may
only name a map that ships in `assets/maps/` or be the map text itself, which `EpisodeLog.start`
embeds for any other map; so a record never makes Grid Arena read a local file.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import worlds
from arena.episode import write_atomic
from worlds.errors import BadFileError
from worlds.maps import map_text, parse_map, shipped_map
from worlds.scenario import Scenario
from worlds.state import State

FORMAT = "grid-arena-replay"
VERSION = 1


THINK_KINDS = ("", "probs", "q")  # the record stores the index
MAX_FPS = 1000.0


class ReplayError(BadFileError):
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
        config = dict(match.config)
        if config.get("map") and not shipped_map(config["map"]):
            config["map"] = map_text(match.scenario.grid_map)  # embedded: a record reads no local file
        log = cls(
            scenario=match.scenario.name,
            config=config,
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
    if not isinstance(meta, dict):
        raise ReplayError(f"{path}: its meta entry is JSON {type(meta).__name__}, not an object")
    if meta.get("format") != FORMAT:
        raise ReplayError(f"{path} is not a Grid Arena record (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise ReplayError(
            f"{path} is a version {meta.get('version')!r} record; this Grid Arena reads version {VERSION}"
        )
    try:
        log = _from_arrays(meta, arrays)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        raise ReplayError(f"{path} is corrupt: {' '.join(str(err).split())}") from None
    _check_scenario(path, log)
    return log


def _check_scenario(path: Path, log: EpisodeLog) -> None:
    """The record's scenario and config, checked as any config is, and its map only a shipped
    one or one embedded in the record."""
    where = log.config.get("map")
    if isinstance(where, str) and "\n" not in where and not shipped_map(where):
        raise ReplayError(
            f"{path}: names the map {where!r}, which neither ships with Grid Arena nor is embedded "
            "in the record (records may not read local files)"
        )
    try:
        scenario = worlds.make_scenario(log.scenario, **log.config)
        if isinstance(where, str) and "\n" in where:
            parse_map(where, f"{path} (its embedded map)")
    except ReplayError:
        raise
    except (ValueError, TypeError) as err:  # a ConfigError, a MapError, an unknown scenario
        raise ReplayError(f"{path}: {' '.join(str(err).split())}") from None
    if log.agents != scenario.agent_names or log.action_names != list(scenario.actions):
        raise ReplayError(
            f"{path}: its agents {log.agents} and actions {log.action_names} are not those of "
            f"{log.scenario} with its config ({scenario.agent_names}, {list(scenario.actions)})"
        )


def _from_arrays(meta: dict, arrays: dict) -> EpisodeLog:
    agents, action_names, steps = list(meta["agents"]), list(meta["actions"]), meta["steps"]
    if not _is_int(steps) or steps < 0:
        raise ValueError(f"steps is {steps!r}, not a whole number >= 0")
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
    if kinds.dtype != np.uint8 or (kinds.size and kinds.max() >= len(THINK_KINDS)):
        raise ValueError(f"think_kind holds kinds outside 0..{len(THINK_KINDS) - 1}")
    extras = json.loads(str(arrays["extras"])) if "extras" in arrays else []
    for entry in _entries(extras, "extras", dict):
        _agent_step(entry, n, steps, "extras")
    seats = _entries(meta.get("seats", []), "seats", str)
    for entry in seats:
        _agent_step(entry, n, steps + 1, "seats")
    config, summary, seed = meta["config"], meta.get("summary", {}), meta["seed"]
    if not isinstance(config, dict) or not isinstance(summary, dict):
        raise ValueError("config and summary must be objects")
    if not _is_int(seed) or not all(isinstance(x, str) for x in agents + action_names):
        raise ValueError("seed must be a whole number and agents and actions names")
    fps = meta.get("fps", 6.0)
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not 0 < fps <= MAX_FPS:
        raise ValueError(f"fps is {fps!r}, not a number in (0, {MAX_FPS:g}]")
    return EpisodeLog(
        scenario=str(meta["scenario"]),
        config=dict(config),
        seed=int(seed),
        agents=agents,
        action_names=action_names,
        actions=actions,
        think_kind=kinds,
        think_values=values,
        digests=digest.astype(np.int64).tolist(),
        seats=[list(s) for s in seats],
        extras=extras,
        summary=dict(summary),
        fps=float(fps),
    )


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entries(value, name: str, last: type) -> list:
    """A list of [step, agent, x] entries whose x is a `last`."""
    if not isinstance(value, list) or not all(
        isinstance(e, list) and len(e) == 3 and isinstance(e[2], last) for e in value
    ):
        raise ValueError(f"{name} must be a list of [step, agent, {last.__name__}] entries")
    return value


def _agent_step(entry: list, agents: int, steps: int, name: str) -> None:
    step, agent = entry[0], entry[1]
    if not (_is_int(step) and 0 <= step < max(steps, 1) and _is_int(agent) and 0 <= agent < agents):
        raise ValueError(f"{name} entry {entry[:2]} names no step 0..{steps - 1} and agent 0..{agents - 1}")
