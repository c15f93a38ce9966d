"""Controllers by name, for seats given on the command line (`--seat hunter_0=planner`).

A spec is a name (`random`, `planner`, `human`, `lm`), `lm:SOURCE#OPTIONS` (as `agents.lm.spec`
reads it: `lm:smollm2`, a model folder, a served model's address; scoring or generating) or the
path of a saved checkpoint (any learner). Modules are imported only when their controller is
asked for, so a scripted match never imports torch or transformers.
"""

from __future__ import annotations

import difflib
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from worlds.scenario import Scenario

if TYPE_CHECKING:  # torch is imported only when a checkpoint is loaded
    import torch

    from agents.learner import Learner

NAMES = ("random", "planner", "human", "lm")


def make_controller(
    spec: str, scenario: Scenario, seed: int | None = None, device: str = "auto", learners: tuple = ()
):
    """The controller a seat spec names; a clear error lists the known names (and `learners`,
    where the command also takes a learning algorithm) otherwise."""
    name, _, option = spec.partition(":")
    if name.startswith("lm#"):  # the shipped model with options: lm#generate
        name, option = "lm", spec[len("lm") :]
    if name == "random":
        from agents.random_agent import RandomAgent

        return RandomAgent(seed)
    if name == "planner":
        from agents.planners import make_planner

        return make_planner(scenario, seed=seed)
    if name == "human":
        from agents.human import Human

        return Human(keys=option or None)
    if name == "lm":
        from agents.lm.spec import make_lm_seat

        return make_lm_seat(option, scenario, seed=seed, device=device)
    if Path(spec).exists():
        return load_controller(spec, device=device, scenario=scenario)
    if looks_like_path(spec):
        raise FileNotFoundError(2, "no such checkpoint file", spec)
    known = (*learners, *NAMES)
    close = difflib.get_close_matches(spec, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ValueError(
        f"unknown controller {spec!r}{hint}: use one of {', '.join(known)} (or lm:MODEL[#OPTIONS]), "
        "or the path of a checkpoint"
    )


def looks_like_path(spec: str) -> bool:
    """A spec meant as a file: it has a folder or a checkpoint's suffix."""
    return "/" in spec or "\\" in spec or spec.endswith((".safetensors", ".pt"))


def load_controller(
    path: str | Path, device: str | torch.device = "auto", scenario: Scenario | None = None
) -> Learner:
    """A learner from a checkpoint, ready for a seat (its `act` acts, `thinking` shows its
    values). With `scenario`, also check that it can play there: same view shape and no more
    actions than it knows. Language-model learners (`lm_ppo`, `lm_q`) load through `agents.lm`."""
    from agents.checkpoint import LM_ALGOS, load_learner

    if _algo_of(path) in LM_ALGOS:
        from agents.lm.learning import load_lm_learner

        return load_lm_learner(path, device)
    learner = load_learner(path, device)
    if scenario is not None:
        v = scenario.view_size
        shape = (v, v, len(scenario.view_codes))
        fits = shape == learner.obs_shape and tuple(scenario.view_codes) == tuple(learner.codes)
        trained = learner.config["scenario"]["name"]
        if not fits or len(scenario.actions) > learner.num_actions:
            raise ValueError(
                f"{path}: checkpoint was trained on {trained} with "
                f"views {learner.obs_shape} and {learner.num_actions} actions; {scenario.name} has "
                f"views {shape} and {len(scenario.actions)} actions"
            )
        if trained != scenario.name:
            warnings.warn(f"{path}: trained on {trained}, now playing {scenario.name}", stacklevel=2)
    return learner


def _algo_of(path: str | Path) -> str | None:
    """The algorithm a checkpoint names in its metadata, or None when that cannot be read (the
    full reader then says what is wrong)."""
    from agents.files import read_safetensors
    from worlds.errors import BadFileError

    try:
        return read_safetensors(path)[0].get("algo")
    except (BadFileError, OSError):  # broken files are reported by read_checkpoint
        return None
