"""A training loop's whole state as tensors and JSON, and back.

What `TrainingLoop` holds between two steps: the worlds (every array of the batch state, the
running returns behind `infos`, each world's generator), each seat's learner (weights,
optimizer, buffers, generator, an LM learner's prompt memory), the recent-episode windows and
the learner metrics since the last log line. `arena.training.run` keeps it in its run
checkpoint; `arena.population` keeps one per member in the population's checkpoint. Restoring
checks every world array against a fresh state of the scenario before the kernels index with it.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np

from arena.training.loop import TrainingLoop, prompt_memory
from worlds.batch import BatchEnv
from worlds.errors import BadFileError
from worlds.state import State
from worlds.validate_state import check_state


def loop_state(loop: TrainingLoop) -> tuple[dict, dict]:
    """(tensors, JSON-able data) of the loop: `env/...` and `seat/<name>/...` tensors; data
    with `stats`, `metrics`, `env_rngs`, `pad` and `seats` (one entry per seat)."""
    import torch

    env = loop.env
    tensors = {f"env/{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in env_arrays(env).items()}
    seats = []
    for seat in loop.seats:
        entry = {"name": seat.name, "spec": seat.spec}
        if callable(getattr(seat.controller, "state", None)):
            weights, extras = seat.controller.state()
            for key, value in weights.items():
                tensors[f"seat/{seat.name}/{key}"] = value.detach().cpu().contiguous().clone()
            entry["extras"] = extras
        rng = getattr(seat.controller, "rng", None)
        if isinstance(rng, np.random.Generator):
            entry["rng"] = rng.bit_generator.state
        memory = prompt_memory(seat.controller)
        if memory is not None:
            entry["memory"] = [[*key, actions] for key, actions in memory.items()]
        seats.append(entry)
    data = {
        "stats": loop.stats.to_json(),
        "metrics": loop.metrics,
        "env_rngs": env.seeds.state(),  # per world: layout key, episodes begun, generator
        "pad": env.world.pad,
        "seats": seats,
    }
    return tensors, data


def restore_loop(loop: TrainingLoop, tensors: dict, data: dict, where: str | Path, device) -> None:
    """Put back what `loop_state` saved; a BadFileError naming `where` for what does not fit.
    (Other damage surfaces as KeyError, TypeError, ValueError: the caller names the file.)"""
    env = loop.env
    arrays = {k.removeprefix("env/"): v.numpy().copy() for k, v in tensors.items() if k.startswith("env/")}
    state = _state_fields(arrays) | {"pad": data["pad"]}
    # every array checked against a fresh state of this run before the kernels index with it
    check_state(state, env.world, loop.scenario, str(where))
    for name, like in (("returns", env._returns), ("ended", env._ended)):
        got = arrays.get(name)
        if got is None or got.dtype != like.dtype or got.shape != like.shape:
            raise BadFileError(f"{where}: env {name!r} is missing or not {like.dtype}{like.shape}")
    if not np.isfinite(arrays["returns"]).all() or arrays["ended"].view(np.uint8).max(initial=0) > 1:
        raise BadFileError(f"{where}: env 'returns' or 'ended' holds values no run writes")
    if len(data["env_rngs"]) != env.num_worlds:
        raise BadFileError(
            f"{where}: holds {len(data['env_rngs'])} world generators, the run has {env.num_worlds}"
        )
    env.world = State.from_dict(state)
    env.seeds.set_state(data["env_rngs"])
    env._returns[:] = arrays["returns"]
    env._ended[:] = arrays["ended"]
    loop.obs = env._observe()
    loop.state = env.world.copy()
    by_name = {entry["name"]: entry for entry in data["seats"]}
    for seat in loop.seats:
        entry = by_name.get(seat.name)
        if entry is None:
            raise ValueError(f"{where}: has no seat {seat.name!r}")
        if "extras" in entry:
            prefix = f"seat/{seat.name}/"
            own = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
            seat.controller.load_state({k: v.to(device) for k, v in own.items()}, entry["extras"])
        if "rng" in entry:
            seat.controller.rng.bit_generator.state = entry["rng"]
        if "memory" in entry:
            seat.controller.seat.memory = {tuple(e[:-1]): list(e[-1]) for e in entry["memory"]}
    loop.stats.load_json(data["stats"])
    loop.metrics = {s.name: data["metrics"].get(s.name, {}) for s in loop.seats}


def env_arrays(env: BatchEnv) -> dict[str, np.ndarray]:
    """The batch env's whole state: the worlds, and the running returns behind `infos`. (Reads
    BatchEnv's private fields; the resume tests fail if they change.)"""
    arrays = {}
    for f in fields(env.world):  # every array of the state, those added later too
        value = getattr(env.world, f.name)
        if isinstance(value, np.ndarray):
            arrays[f.name] = value
        elif isinstance(value, dict):  # a dict of arrays, e.g. a scenario's own state
            arrays |= {f"{f.name}/{k}": v for k, v in value.items()}
    return arrays | {"returns": env._returns, "ended": env._ended}


def _state_fields(arrays: dict[str, np.ndarray]) -> dict:
    """The saved env arrays as `State` fields: `name/key` entries gathered into dicts."""
    names = {f.name for f in fields(State)}
    state: dict = {}
    for key, value in arrays.items():
        name, sep, sub = key.partition("/")
        if name not in names:
            continue
        if sep:
            state.setdefault(name, {})[sub] = value
        else:
            state[name] = value
    return state
