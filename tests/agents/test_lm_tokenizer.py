"""The word-level tokenizer covers every word the text view produces, one token per map cell."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoTokenizer

import worlds
from agents.lm.prompt import build_prompt
from agents.lm.tokenizer import build_tokenizer, words

# Configs beyond the defaults the vocabulary was harvested from: more agents (names up to _9,
# crowds in view), bigger views, hand-written maps, every maze style.
CONFIGS = [
    ("maze_v0", {"num_agents": 10, "size": 15, "view_size": 9, "max_cycles": 1234}),
    ("maze_v0", {"style": "rooms", "size": 11, "num_agents": 3}),
    ("maze_v0", {"style": "open", "size": 5, "num_agents": 4, "view_size": 11}),
    ("maze_v0", {"map": "maze_classic", "num_agents": 2}),
    ("plates_v0", {"num_agents": 3, "size": 9}),
    ("plates_v0", {"map": "plates_small"}),
    ("tag_v0", {"num_agents": 7, "num_hunters": 3, "style": "open", "size": 7}),
    ("tag_v0", {"map": "tag_arena"}),
]


def text_views(name: str, config: dict, steps: int = 12, seed: int = 3):
    env = worlds.make_batch(name, num_worlds=2, seed=seed, obs_type="text", **config)
    obs = env.reset()
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        yield from (t for row in obs["text"] for t in row)
        obs, *_ = env.step((obs["action_mask"] + rng.random(obs["action_mask"].shape)).argmax(-1))


@pytest.mark.parametrize("name,config", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_every_word_of_the_text_view_is_known(tokenizer, name, config):
    unk = tokenizer.unk_token_id
    for text in text_views(name, config):
        prompt = build_prompt(text, ["north", "tag", "noop"])
        ids = tokenizer(prompt.text, add_special_tokens=False).input_ids
        unknown = [w for w, i in zip(words(prompt.text), ids, strict=True) if i == unk]
        assert not unknown, f"unknown words {unknown} in:\n{text}"


def test_map_rows_are_one_token_per_cell(tokenizer):
    config = {"style": "open", "size": 5, "num_agents": 3, "view_size": 9}
    seen_blank = seen_letters = False
    for text in text_views("maze_v0", config, steps=6):
        lines = text.split("\n")
        start = next(k for k, line in enumerate(lines) if line.startswith("You see")) + 1
        for row in lines[start : start + 9]:
            assert len(row) == 9
            # rows always follow a line break in a text view
            assert words("\n" + row + "\n") == ["\n", *row, "\n"]
            assert len(tokenizer("\n" + row, add_special_tokens=False).input_ids) == 10
            seen_blank |= " " in row
            seen_letters |= "G" in row
    assert seen_blank and seen_letters  # the cases that matter did come up
    # runs of cell letters stay cells; prose keeps its words
    assert words("#GP.dD\n") == ["#", "G", "P", ".", "d", "D", "\n"]
    assert words("You stand on pressure plate.") == ["You", "stand", "on", "pressure", "plate", "."]
    assert words(" north") == ["north"]  # a candidate's leading space is a word boundary


def test_unknown_words_are_unk_and_numbers_are_digits(tokenizer):
    ids = tokenizer("You see a banana", add_special_tokens=False).input_ids
    assert ids[-1] == tokenizer.unk_token_id and tokenizer.unk_token_id not in ids[:-1]
    assert words("step 1234 of 99999.") == ["step", "1", "2", "3", "4", "of", *"99999", "."]


def test_saved_tokenizer_loads_with_auto_tokenizer(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = next(text_views("tag_v0", {}))
    assert loaded(text).input_ids == tokenizer(text).input_ids
    assert (loaded.pad_token, loaded.bos_token, loaded.unk_token) == ("<pad>", "<s>", "<unk>")
    assert len(loaded) == len(tokenizer)


def test_vocabulary_is_deterministic(tokenizer):
    assert build_tokenizer().get_vocab() == tokenizer.get_vocab()
