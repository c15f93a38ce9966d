"""The learner protocol: a controller that also learns from `Transition`s and saves itself.

`Learner` is the base of every learning rule (tabular Q, DQN, REINFORCE/A2C/PPO). It holds
what they share: the configuration that rebuilds it (algorithm, hyper-parameters, scenario,
view shape, action count, seed), the torch device chosen once, a seeded numpy Generator for
every random draw, the checks on incoming rows, and `save` to one safetensors file written
atomically. Subclasses implement `act`, `learn`, `state` and `load_state`.

Rows: a learner acts for a fixed set of rows (one per agent of its team in every world) and
`learn` receives the same rows every step. Masks narrower than `num_actions` are padded with
illegal actions, so one learner can act in scenarios with fewer actions (curricula).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from agents.base import Observations, Thinking, Transition
from agents.files import write_atomic
from worlds.scenario import Scenario

FORMAT = "grid-arena-checkpoint"
VERSION = "1"


class Learner:
    name: ClassVar[str] = "learner"
    DEFAULTS: ClassVar[dict] = {}  # every hyper-parameter the rule takes, with its default

    def __init__(self, scenario: Scenario, seed: int = 0, device: torch.device | str = "cpu", **hyper):
        self.hyper = check_hyper(self.name, self.DEFAULTS, hyper)
        self.scenario = scenario
        self.device = torch.device(device)
        self.seed = int(seed)
        self.num_actions = int(self.hyper.pop("num_actions", None) or len(scenario.actions))
        if self.num_actions < len(scenario.actions):
            raise ValueError(
                f"{self.name}: num_actions={self.num_actions} is fewer than the "
                f"{len(scenario.actions)} actions of {scenario.name}"
            )
        v = scenario.view_size
        self.codes = scenario.view_codes  # codes per view channel, what the nets one-hot
        self.obs_shape = (v, v, len(self.codes))
        self.config = {
            "algo": self.name,
            "scenario": {"name": scenario.name, "config": dataclasses.asdict(scenario)},
            "obs_shape": list(self.obs_shape),
            "num_actions": self.num_actions,
            "seed": self.seed,
            "hyper": dict(self.hyper),
        }
        self.rng = np.random.default_rng(seed)
        self.steps = 0  # learn() calls
        self.samples = 0  # active rows learned from
        self.tasks: list[str] = []  # tasks ended so far (continual learning)
        self._thinking: Thinking | None = None

    # -- the controller side -------------------------------------------------------------------
    def act(self, obs: Observations, explore: bool = True) -> np.ndarray:
        raise NotImplementedError

    def thinking(self) -> Thinking | None:
        return self._thinking

    def learn(self, tr: Transition) -> dict[str, float] | None:
        raise NotImplementedError

    def end_task(self, task: str) -> None:
        self.tasks.append(str(task))

    # -- rows ----------------------------------------------------------------------------------
    def legal(self, obs: Observations) -> np.ndarray:
        """The rows' action masks as bool[n, num_actions], checked against this learner."""
        view, mask = obs.view, np.asarray(obs.action_mask)
        if tuple(view.shape[1:]) != self.obs_shape:
            raise ValueError(
                f"{self.name} learner was built for views of shape {self.obs_shape} "
                f"({self.config['scenario']['name']}), got {tuple(view.shape[1:])} from "
                f"{obs.scenario.name}"
            )
        if mask.ndim != 2 or mask.shape[1] > self.num_actions:
            raise ValueError(
                f"{self.name} learner has {self.num_actions} actions, got action masks of shape "
                f"{mask.shape} from {obs.scenario.name}"
            )
        legal = np.zeros((len(mask), self.num_actions), dtype=bool)
        legal[:, : mask.shape[1]] = mask
        legal[:, 0] |= ~legal.any(1)  # a row with nothing legal may still noop
        return legal

    # -- saving ----------------------------------------------------------------------------------
    def state(self, buffers: bool = True) -> tuple[dict[str, torch.Tensor], dict]:
        """Tensors (weights, optimizer, buffers) and JSON-able extras (counters, rng state)
        that `load_state` restores exactly; `buffers=False` leaves out experience buffers."""
        extras = {
            "rng": self.rng.bit_generator.state,
            "steps": self.steps,
            "samples": self.samples,
            "tasks": list(self.tasks),
        }
        return {}, extras

    def load_state(self, tensors: dict[str, torch.Tensor], extras: dict) -> None:
        self.rng.bit_generator.state = extras["rng"]
        self.steps = int(extras["steps"])
        self.samples = int(extras["samples"])
        self.tasks = list(extras["tasks"])

    def save(self, path: str | Path, buffers: bool = True) -> Path:
        """Write ONE .safetensors file with every tensor and the configuration as metadata,
        atomically (a crash never leaves half a file at `path`)."""
        from safetensors.torch import save_file

        tensors, extras = self.state(buffers=buffers)
        tensors = {key: t.detach().to("cpu").contiguous().clone() for key, t in tensors.items()}
        metadata = {
            "format": FORMAT,
            "version": VERSION,
            "algo": self.name,
            "config": json.dumps(self.config),
            "extras": json.dumps(extras),
            "sha256": digest(tensors),
        }
        metadata["meta_sha256"] = metadata_digest(metadata)
        return write_atomic(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


# -- helpers the rules share ---------------------------------------------------------------------
def check_hyper(algo: str, defaults: dict, given: dict) -> dict:
    """The defaults updated with `given`; unknown names and values of the wrong kind fail.
    Strings are parsed as JSON where the default is not a string (command-line values)."""
    unknown = sorted(set(given) - set(defaults) - {"num_actions"})
    if unknown:
        raise ValueError(f"{algo}: unknown hyper-parameters {unknown}; known: {sorted(defaults)}")
    hyper = dict(defaults)
    for key, value in given.items():
        default = defaults.get(key)
        if value is None and isinstance(default, str):
            value = "none"  # the command line reads `none` as None; a text setting means the word
        if isinstance(value, str) and not isinstance(default, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError(f"{algo}: {key}={value!r} is not a number") from None
        if isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(value, bool) and isinstance(default, bool | None)
        elif isinstance(default, int | float):
            ok = isinstance(value, int | float) and (isinstance(default, float) or float(value).is_integer())
            value = type(default)(value) if ok else value
        else:
            ok = default is None or isinstance(value, type(default))
        if not ok:
            raise ValueError(f"{algo}: {key}={value!r} should be like the default {default!r}")
        hyper[key] = value
    return hyper


def epsilon_greedy(q: np.ndarray, legal: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """Per row: a uniformly random legal action with probability `epsilon`, else a best legal
    action (ties broken at random), int64[n]."""
    q = np.where(legal, q, -np.inf)
    best = (q == q.max(1, keepdims=True)) & legal
    pick = np.where(rng.random(len(q))[:, None] < epsilon, legal, best)
    return (rng.random(q.shape) * pick).argmax(1).astype(np.int64)


def sample(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row drawn from `probs` float[n, A] (0 on illegal actions), int64[n]."""
    cdf = probs.cumsum(1)
    u = rng.random(len(probs))[:, None] * cdf[:, -1:]
    action = (cdf <= u).sum(1)
    # Rounding can step past the last legal action; fall back to it.
    last = probs.shape[1] - 1 - (probs[:, ::-1] > 0).argmax(1)
    return np.minimum(action, last).astype(np.int64)


def with_nan(values: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """float32 values with nan on illegal actions (the `Thinking` convention)."""
    return np.where(legal, values, np.nan).astype(np.float32)


def optimizer_state(optimizer: torch.optim.Optimizer, prefix: str) -> tuple[dict, list]:
    """An optimizer's state as flat tensors `prefix.{param}.{key}` and its JSON-able groups."""
    saved = optimizer.state_dict()
    tensors = {}
    for index, entries in saved["state"].items():
        for key, value in entries.items():
            tensors[f"{prefix}.{index}.{key}"] = torch.as_tensor(value)
    return tensors, json.loads(json.dumps(saved["param_groups"]))  # as a checkpoint reads them back


def load_optimizer_state(optimizer: torch.optim.Optimizer, prefix: str, tensors: dict, groups: list):
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def module_state(module: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def load_module_state(module: torch.nn.Module, prefix: str, tensors: dict) -> None:
    own = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    module.load_state_dict(own)  # strict: a missing or misshapen tensor raises


def digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes (catches corrupted data)."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def metadata_digest(metadata: dict[str, str]) -> str:
    """sha256 over a file's metadata entries but the checksums themselves."""
    rest = {k: v for k, v in metadata.items() if not k.endswith("sha256")}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def to_numpy(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, np.ndarray]:
    """Tensors `prefix.NAME` as numpy arrays keyed by NAME."""
    return {k[len(prefix) + 1 :]: v.cpu().numpy() for k, v in tensors.items() if k.startswith(prefix + ".")}


def from_numpy(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
