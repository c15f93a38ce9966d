"""What the language-model learners (`lm_ppo`, `lm_q`) share: a seat with its model (LoRA
adapters optional), tokenizer and prompt memory; the learners by name; checkpoints that carry the
model's configuration and tokenizer, so the file alone rebuilds the learner; and row subsets of
`Observations`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

from agents.base import Observations
from agents.checkpoint import LM_ALGOS, pick_device, read_checkpoint
from agents.lm.model import load_model
from agents.lm.policy import LMController


def seat(
    scenario,
    seed: int,
    device: torch.device,
    model_name: str,
    lm=None,
    tokenizer=None,
    lora: int = 0,
    **options,
):
    """The LM controller a learner acts through: a given (model, tokenizer), or `model_name`
    loaded onto `device`; with `lora` > 0, rank-`lora` adapters on its attention (agents.lm.lora)
    and the rest of the model frozen."""
    if lm is None:
        lm, tokenizer = load_model(model_name, device)
    elif tokenizer is None:
        raise ValueError("a model object needs its tokenizer")
    lm = lm.to(device)
    if lora:
        from agents.lm.lora import add_lora

        add_lora(lm, lora, seed)
    return LMController(lm, tokenizer, scenario, seed=seed, model_name=model_name, **options)


def make_lm_learner(algo: str, scenario, seed: int = 0, device="auto", **hyper):
    """A fresh `lm_ppo` or `lm_q` learner; `hyper` overrides its defaults (`model`: which LM)."""
    return learner_class(algo)(scenario, seed, pick_device(device), **hyper)


def learner_class(algo: str):
    if algo == "lm_ppo":
        from agents.lm.ppo import LMPPO

        return LMPPO
    if algo == "lm_q":
        from agents.lm.qhead import LMQ

        return LMQ
    raise ValueError(f"unknown language-model learner {algo!r}; known: {', '.join(LM_ALGOS)}")


def describe(model, tokenizer) -> dict:
    """JSON-able description that rebuilds the model's architecture and the tokenizer."""
    specials = {k: getattr(tokenizer, k) for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
    out = {
        "model_config": json.loads(model.config.to_json_string()),
        "tokenizer": tokenizer.backend_tokenizer.to_str(),
        "specials": {k: v for k, v in specials.items() if v is not None},
    }
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, str) and template:  # an instruct model's seat prompts through it
        out["chat_template"] = template
    return out


def rebuild(described: dict):
    """(model, tokenizer) from `describe`'s output; the weights are loaded afterwards."""
    from tokenizers import Tokenizer

    config = dict(described["model_config"])
    config = AutoConfig.for_model(config.pop("model_type"), **config)
    with torch.random.fork_rng(devices=[]):
        model = AutoModelForCausalLM.from_config(config)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(described["tokenizer"]), **described["specials"]
    )
    if isinstance(described.get("chat_template"), str):  # a Jinja template: rendered sandboxed
        tokenizer.chat_template = described["chat_template"]
    return model, tokenizer


def read_lm_checkpoint(path: str | Path) -> tuple[dict, dict[str, torch.Tensor], dict]:
    """(config, tensors, extras) of an LM learner's checkpoint; a clear ValueError otherwise."""
    return read_checkpoint(path, algos=LM_ALGOS)


def load_lm_learner(path: str | Path, device="auto"):
    """Rebuild an `lm_ppo` or `lm_q` learner from its checkpoint alone, state restored."""
    from worlds.registry import make_scenario

    config, tensors, extras = read_lm_checkpoint(path)
    device = pick_device(device)
    try:
        scenario = make_scenario(config["scenario"]["name"], **config["scenario"]["config"])
        model, tokenizer = rebuild(config["lm"])
        cls = learner_class(config["algo"])
        hyper = config["hyper"] | {"num_actions": config["num_actions"]}
        learner = cls(scenario, config["seed"], device, lm=model, tokenizer=tokenizer, **hyper)
        learner.load_state(tensors, extras)
    except (ValueError, KeyError, TypeError, RuntimeError) as e:
        raise ValueError(f"{path}: checkpoint does not rebuild its {config.get('algo')} learner: {e}") from e
    return learner


def check_actions(scorer, obs: Observations) -> None:
    """The rows' actions must be the learner's first actions, by name (then the learner's
    action indices mean the same moves in every scenario it sees)."""
    theirs = tuple(obs.scenario.actions)
    if scorer.actions[: len(theirs)] != theirs:
        raise ValueError(
            f"this LM learner scores the actions {scorer.actions}; {obs.scenario.name} has {theirs} "
            "(build the learner on the scenario with the most actions)"
        )


def rows(obs: Observations, index: np.ndarray) -> Observations:
    """The sub-batch of `obs` at rows `index` (same state)."""
    return Observations(
        obs.scenario,
        obs.state,
        obs.view[index],
        obs.action_mask[index],
        obs.world[index],
        obs.agent[index],
        None if obs.history is None else [obs.history[k] for k in np.asarray(index).tolist()],
    )


def model_tensors(model: torch.nn.Module, prefix: str = "lm") -> dict[str, torch.Tensor]:
    """The model's weights (tied weights once: safetensors refuses shared storage)."""
    out, seen = {}, set()
    for name, value in model.state_dict().items():
        key = value.data_ptr()
        if key in seen:
            continue
        seen.add(key)
        out[f"{prefix}.{name}"] = value
    return out


def load_model_tensors(model: torch.nn.Module, tensors: dict, prefix: str = "lm") -> None:
    own = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    missing, unexpected = model.load_state_dict(own, strict=False)
    tied = {k for k in missing if k.endswith("lm_head.weight")} if model.config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise ValueError(
            f"model weights do not fit: missing {sorted(set(missing) - tied)}, unexpected {unexpected}"
        )
    if tied:
        model.tie_weights()
