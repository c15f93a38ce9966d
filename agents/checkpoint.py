"""Learners by name, and checkpoints: one safetensors file that rebuilds its learner alone.

A checkpoint holds every tensor of a learner (weights, optimizer, buffers unless left out) and
metadata `{"format": "grid-arena-checkpoint", "version": "1", "algo", "config", "extras",
"sha256"}`; `config` names the scenario and its settings, the view shape, the action count, the
seed and every hyper-parameter, so `load_controller(path)` needs nothing else. A file that is
truncated, corrupted, of another format or version, or that does not fit the scenario it is
asked to play fails with a `ValueError` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import torch

from agents.learner import FORMAT, VERSION, Learner, digest
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
        from agents.policy_gradient import PolicyGradient

        return PolicyGradient(scenario, seed, device, algo=algo, **hyper)
    raise ValueError(f"unknown algorithm {algo!r}; known: {', '.join(ALGOS)}")


def read_checkpoint(
    path: str | Path, algos: tuple[str, ...] = ALGOS
) -> tuple[dict, dict[str, torch.Tensor], dict]:
    """(config, tensors, extras) of a checkpoint file of one of `algos`, checked; ValueError
    otherwise."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as e:  # safetensors raises its own error types for broken files
        raise ValueError(f"{path}: not a readable safetensors checkpoint (truncated or corrupt?): {e}") from e
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a grid-arena checkpoint (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise ValueError(f"{path}: checkpoint version {meta.get('version')!r}, this code reads {VERSION!r}")
    if meta.get("sha256") != digest(tensors):
        raise ValueError(f"{path}: corrupt checkpoint (its tensors do not match their checksum)")
    try:
        config, extras = json.loads(meta["config"]), json.loads(meta["extras"])
    except (KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: checkpoint metadata is damaged ({e})") from e
    if config.get("algo") != meta.get("algo") or config.get("algo") not in algos:
        raise ValueError(f"{path}: unknown algorithm {meta.get('algo')!r} (known: {', '.join(algos)})")
    return config, tensors, extras


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
    except (ValueError, KeyError, TypeError, RuntimeError) as e:
        raise ValueError(f"{path}: checkpoint does not rebuild its {config.get('algo')} learner: {e}") from e
    return learner


def load_controller(
    path: str | Path, device: str | torch.device = "auto", scenario: Scenario | None = None
) -> Learner:
    """A learner from a checkpoint, ready for a seat (its `act` acts, `thinking` shows its
    values). With `scenario`, also check that it can play there: same view shape and no more
    actions than it knows. Language-model learners (`lm_ppo`, `lm_q`) load through `agents.lm`."""
    if _algo_of(path) in LM_ALGOS:
        from agents.lm.learning import load_lm_learner

        return load_lm_learner(path, device)
    learner = load_learner(path, device)
    if scenario is not None:
        v = scenario.view_size
        if (v, v, len(scenario.view_codes)) != tuple(learner.obs_shape) or len(
            scenario.actions
        ) > learner.num_actions:
            raise ValueError(
                f"{path}: checkpoint was trained on {learner.config['scenario']['name']} with "
                f"views {learner.obs_shape} and {learner.num_actions} actions; {scenario.name} has "
                f"views {(v, v, 3)} and {len(scenario.actions)} actions"
            )
    return learner


def _algo_of(path: str | Path) -> str | None:
    """The algorithm a checkpoint names in its metadata, or None when that cannot be read (the
    full reader then says what is wrong)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return (f.metadata() or {}).get("algo")
    except Exception:  # broken files are reported by read_checkpoint
        return None
