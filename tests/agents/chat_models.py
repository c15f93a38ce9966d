"""Tiny instruct models for the tests, built on the spot (nothing is downloaded): a tokenizer
with a chat template and a randomly initialised causal LM, saved as a model folder that
`AutoModelForCausalLM` / `AutoTokenizer` load like any other.

* `word_chat_model`: the project's word-level tokenizer plus ChatML markers (`<|im_start|>`,
  `<|im_end|>`), a ChatML template, and a small Llama.
* `bpe_chat_model`: a byte-level BPE tokenizer trained here on text views (as GPT-2's and most
  instruct models' are), a template that writes the BOS itself, and a small GPT-2: the scorer's
  generic path, and prompts split inside BPE text.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from agents.lm.model import build_model
from agents.lm.tokenizer import build_tokenizer, harvested_texts

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
MARKERS = ["<|im_start|>", "<|im_end|>"]


def word_chat_tokenizer(template: str = CHATML):
    tokenizer = build_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": MARKERS})
    tokenizer.chat_template = template
    return tokenizer


def word_chat_model(folder: Path, seed: int = 0, template: str = CHATML) -> Path:
    tokenizer = word_chat_tokenizer(template)
    model = build_model(tokenizer, seed=seed, hidden_size=32, intermediate_size=64, num_hidden_layers=2)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def bpe_tokenizer() -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<pad>", "<s>", "</s>", *MARKERS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    core.train_from_iterator(harvested_texts(steps=2), trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        additional_special_tokens=MARKERS,
    )  # fmt: skip
    tokenizer.chat_template = "{{ bos_token }}" + CHATML
    return tokenizer


def bpe_chat_model(folder: Path, seed: int = 0) -> Path:
    tokenizer = bpe_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=2048, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
