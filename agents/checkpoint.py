"""Learners by name, and checkpoints: one safetensors file that rebuilds its learner alone.

A checkpoint holds every tensor of a learner (weights, optimizer, buffers unless left out) and
metadata `{"format": "grid-arena-checkpoint", "version": "1", "algo", "config", "extras",
"sha256"}`; `config` names the scenario and its settings, the view shape, the action count, the
seed and every hyper-parameter, so `load_controller(path)` needs nothing else. A file that is
truncated, corrupted, of another format or version, or that does not fit the scenario it is
asked to play fails with a `BadFileError` (a ValueError) naming the file and what is wrong.
`meta_sha256` covers the metadata as `sha256` covers the tensors (files written before it
existed have only `sha256`). A file is read from one open handle, so a checkpoint replaced
while it is read is seen whole, old or new.
"""

from __future__ import annotations

import inspect
import json
import os
from contextlib import contextmanager
from pathlib import Path

import torch

from agents.files import read_safetensors
from agents.learner import FORMAT, VERSION, Learner, digest, metadata_digest
from worlds.errors import BadFileError
from worlds.scenario import Scenario

ALGOS = ("tabular_q", "dqn", "reinforce", "a2c", "ppo")
LM_ALGOS = ("lm_ppo", "lm_q")  # language-model learners, in agents/lm
DEVICES = ("auto", "cpu", "cuda")
MEMORY_ALGOS = ("reinforce", "a2c", "ppo")  # learners with a `memory` hyper-parameter


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """The torch device for a run, chosen once: `auto` is cuda when available, else cpu."""
    if isinstance(name, torch.device):
        return name
    if name not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU (use --device cpu)")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


@contextmanager
def deterministic():
    """Torch's deterministic kernels while the block runs, its previous setting after. On CUDA
    some default kernels (atomic adds in backward passes, cuDNN's fastest algorithms) differ from
    run to run, so a resumed run would drift from the one left alone; on CPU this costs nothing.
    Strict (not warn-only): with warn-only, torch's memory-efficient attention keeps its
    non-deterministic backward pass."""
    before = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # what torch asks of cuBLAS
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=warn_only)


def make_learner(
    algo: str, scenario: Scenario, device: str | torch.device = "auto", seed: int = 0, **hyper
) -> Learner:
    """A fresh learner of `algo` for `scenario`'s views and actions; `hyper` overrides the
    algorithm's defaults (unknown names fail, listing the known ones)."""
    device = pick_device(device)
    if algo == "tabular_q":
        from agents.tabular_q import TabularQ

        return TabularQ(scenario, seed, device, **hyper)
    if algo == "dqn":
        from agents.dqn import DQN

        return DQN(scenario, seed, device, **hyper)
    if algo in ("reinforce", "a2c", "ppo"):
        from agents.recurrent import RecurrentPolicyGradient, is_recurrent

        if is_recurrent(hyper):  # a core or a context: the recurrent learner
            return RecurrentPolicyGradient(scenario, seed, device, algo=algo, **hyper)
        from agents.policy_gradient import PolicyGradient

        return PolicyGradient(scenario, seed, device, algo=algo, **hyper)
    raise ValueError(f"unknown algorithm {algo!r}; known: {', '.join(ALGOS)}")


def read_checkpoint(
    path: str | Path, algos: tuple[str, ...] = ALGOS
) -> tuple[dict, dict[str, torch.Tensor], dict]:
    """(config, tensors, extras) of a checkpoint file of one of `algos`, checked; BadFileError
    otherwise."""
    path = Path(path)
    if not path.is_file():
        raise BadFileError(f"{path}: no such checkpoint file")
    meta, tensors = read_safetensors(path, "safetensors checkpoint")
    if meta.get("format") != FORMAT:
        raise BadFileError(f"{path}: not a grid-arena checkpoint (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise BadFileError(f"{path}: checkpoint version {meta.get('version')!r}, this code reads {VERSION!r}")
    if meta.get("sha256") != digest(tensors):
        raise BadFileError(f"{path}: corrupt checkpoint (its tensors do not match their checksum)")
    if "meta_sha256" in meta and meta["meta_sha256"] != metadata_digest(meta):
        raise BadFileError(f"{path}: corrupt checkpoint (its metadata does not match its checksum)")
    try:
        config, extras = json.loads(meta["config"]), json.loads(meta["extras"])
    except (KeyError, json.JSONDecodeError) as e:
        raise BadFileError(f"{path}: checkpoint metadata is damaged ({e})") from None
    check_config(path, config, extras)
    if config.get("algo") != meta.get("algo") or config.get("algo") not in algos:
        raise BadFileError(f"{path}: unknown algorithm {meta.get('algo')!r} (known: {', '.join(algos)})")
    return config, tensors, extras


# The checkpoint's `config` entries and their JSON types (LM learners add their own).
CONFIG_TYPES = {
    "algo": str, "scenario": dict, "hyper": dict, "seed": int, "num_actions": int, "obs_shape": list,
}  # fmt: skip


def check_config(path: Path, config, extras) -> None:
    """The shape of a checkpoint's metadata, so a damaged one fails here with its name."""
    if not isinstance(config, dict):
        raise BadFileError(f"{path}: checkpoint metadata 'config' is {type(config).__name__}, not an object")
    if not isinstance(extras, dict):
        raise BadFileError(f"{path}: checkpoint metadata 'extras' is {type(extras).__name__}, not an object")
    for key, kind in CONFIG_TYPES.items():
        if key not in config:
            raise BadFileError(f"{path}: checkpoint config has no {key!r}")
        value = config[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise BadFileError(f"{path}: checkpoint config {key!r} is {value!r}, not a {kind.__name__}")
    scenario = config["scenario"]
    if not isinstance(scenario.get("name"), str) or not isinstance(scenario.get("config"), dict):
        raise BadFileError(f"{path}: checkpoint config 'scenario' needs a name and a config object")
    if not 1 <= config["num_actions"] <= 64:
        raise BadFileError(f"{path}: checkpoint config 'num_actions' is {config['num_actions']}, not 1..64")


def load_learner(path: str | Path, device: str | torch.device = "auto") -> Learner:
    """Rebuild a learner from its checkpoint alone, with its state restored."""
    from worlds.registry import make_scenario

    config, tensors, extras = read_checkpoint(path)
    hyper = dict(config["hyper"])
    if config["algo"] in MEMORY_ALGOS:
        hyper.setdefault("memory", "none")  # saved before learners had a memory input
    try:
        scenario = make_scenario(config["scenario"]["name"], **config["scenario"]["config"])
        learner = make_learner(
            config["algo"], scenario, device, seed=config["seed"], num_actions=config["num_actions"], **hyper
        )
        if list(learner.obs_shape) != list(config["obs_shape"]):
            raise ValueError(
                f"view shape {config['obs_shape']} does not match the scenario's {learner.obs_shape}"
            )
        learner.load_state(tensors, extras)
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError, AttributeError) as e:
        reason = " ".join(str(e).split())
        raise BadFileError(
            f"{path}: checkpoint does not rebuild its {config.get('algo')} learner: {reason}"
        ) from e
    return learner


def save_controller(controller, path: Path) -> Path:
    """A learner's own checkpoint for seats (`--seat NAME=PATH`): weights and configuration,
    without experience buffers where the learner can leave them out (the run's checkpoint
    keeps everything)."""
    if "buffers" in inspect.signature(controller.save).parameters:
        return controller.save(path, buffers=False)
    return controller.save(path)
