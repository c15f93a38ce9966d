"""LoRA adapters (low-rank, Hu et al. 2021) on a language model's attention projections, by `peft`.

`add_lora(model, rank, seed)` injects a trainable pair A [rank, in], B [out, rank] beside every
linear layer of the model's attention blocks (Llama's q/k/v/o_proj, GPT-2's c_attn/c_proj), in
place: the model stays the same class, so the scorer's fast Llama pass still applies, and its
`state_dict` holds the frozen base weights (`...q_proj.base_layer.weight`) next to the adapters
(`...q_proj.lora_A.default.weight`). Only the adapters then require gradients. B starts at zero,
so a fresh adapter leaves the policy unchanged. A checkpoint keeps that whole state dict: the
file alone rebuilds the model (the same injection on the rebuilt architecture, then the weights).
"""

from __future__ import annotations

import torch
from transformers.pytorch_utils import Conv1D  # GPT-2's linear layers (weights stored transposed)

EXTRA = "lora"  # the pyproject extra that installs peft
ALPHA_PER_RANK = 2  # lora_alpha = 2 * rank: updates scaled by 2 whatever the rank


def attention_layers(model: torch.nn.Module) -> list[str]:
    """Qualified names of the linear layers inside the model's attention blocks."""
    names = []
    for name, module in model.named_modules():
        in_attention = any("attn" in part or "attention" in part for part in name.split(".")[:-1])
        if in_attention and isinstance(module, torch.nn.Linear | Conv1D):
            names.append(name)
    return names


def add_lora(model: torch.nn.Module, rank: int, seed: int = 0) -> torch.nn.Module:
    """`model` (changed in place and returned) with rank-`rank` LoRA adapters on its attention
    projections; every other weight frozen. The adapters' random init is drawn from `seed` alone,
    leaving the global torch generator as it was."""
    if rank < 1:
        raise ValueError(f"lora rank must be >= 1, got {rank}")
    try:
        from peft import LoraConfig, inject_adapter_in_model
    except ImportError:  # a ValueError, as for the smollm2 extra: the command line prints it plainly
        raise ValueError(
            f"lora={rank} needs peft: pip install -e '.[{EXTRA}]' (or pip install peft)"
        ) from None
    targets = attention_layers(model)
    if not targets:
        raise ValueError(f"lora: found no attention projections in {type(model).__name__}")
    transposed = all(isinstance(model.get_submodule(name), Conv1D) for name in targets)
    config = LoraConfig(
        r=rank,
        lora_alpha=ALPHA_PER_RANK * rank,
        lora_dropout=0.0,
        target_modules=targets,
        fan_in_fan_out=transposed,
    )
    model.requires_grad_(False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        inject_adapter_in_model(config, model)
    return model


def adapter_names(model: torch.nn.Module) -> list[str]:
    """Names of the LoRA parameters of `model` (empty without adapters)."""
    return [name for name, _ in model.named_parameters() if ".lora_" in name]
