"""The talk model: the default model's recipe plus signal_v0, so a small LM reads and says words.

The shipped default model (`assets/lm/default/`) never saw signal_v0: its word-level vocabulary
has no colour, landmark or `say` word, so it cannot even spell `say_red`. The talk model is the
same tiny Llama distilled the same way (`agents.lm.distill`) from a corpus that adds signal_v0
episodes played by its planner: the speaker's label is the word naming the target (a `say_`
action, the message it sends), a listener's label is the move towards the landmark its
teammate named (the heard word is in its prompt: `agent_0 says "red".`). Its tokenizer covers
every word of the corpus's prompts. The signal configs come from the *train* split of
`worlds.tasks("signal")` (layout seeds dropped, so each episode draws a fresh room and target),
so the test split's knob combinations stay held out for measuring (`arena lm talk`).

`arena lm talk --train` builds it into `assets/lm/talk/`; a seat uses it as `lm:talk`. With
`--recipe signal` the corpus is signal_v0's alone (the shipped talk model: a fraction of the
cost, and a model that plays signal_v0 only).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from agents.lm.distill import ACTIONS, HELDOUT_SEED, RECIPE, accuracy, chance, collect_recipe, train
from agents.lm.distill import union_scorer as _union_scorer
from worlds.scenarios.signal_v0 import WORDS

TALK_ACTIONS = (*ACTIONS, *(f"say_{word}" for word in WORDS))
SIGNAL_CONFIGS = 12  # distinct train-split signal configs in the recipe
SIGNAL_EPISODES = 120  # episodes of each: a speaker has a few decisions per episode


def signal_recipe(seed: int = 0, configs: int = SIGNAL_CONFIGS, episodes: int = SIGNAL_EPISODES) -> tuple:
    """Recipe lines for `configs` signal_v0 configs of the train split (fresh layouts)."""
    import worlds

    lines, seen = [], []
    for task in worlds.tasks("signal", "train", seed):
        config = {k: v for k, v in task.config.items() if k != "layout_seed"}
        if config in seen:
            continue
        seen.append(config)
        knobs = f"{config['roles']} l{config['num_landmarks']} a{config['num_agents']} n{config['noise']}"
        lines.append((f"signal {knobs} {config['size']}", "signal_v0", config, episodes))
        if len(lines) == configs:
            return tuple(lines)


RECIPES = ("all", "signal")  # the default recipe plus signal_v0, or signal_v0 alone


def talk_recipe(seed: int = 0, recipe: str = "all") -> tuple:
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {', '.join(RECIPES)}, got {recipe!r}")
    return (RECIPE if recipe == "all" else ()) + signal_recipe(seed)


def union_scorer(model, tokenizer):
    return _union_scorer(model, tokenizer, TALK_ACTIONS)


def distill_talk(
    seed: int = 0,
    scale: float = 1.0,
    heldout_scale: float | None = None,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 3e-3,
    log: Callable[[str], None] | None = None,
    recipe: str = "all",
):
    """Build the talk model from scratch; returns (model, tokenizer, report) as
    `distill.distill_default` does. The held-out corpus is `heldout_scale` (default 0.3 *
    `scale`) of the recipe, from other seeds."""
    from agents.lm.model import build_model, parameter_count
    from agents.lm.tokenizer import build_tokenizer

    say = log or (lambda _: None)
    lines = talk_recipe(seed, recipe)
    corpus = collect_recipe(lines, seed=seed, scale=scale, actions=TALK_ACTIONS).choices()
    held = 0.3 * scale if heldout_scale is None else heldout_scale
    heldout = collect_recipe(lines, seed=seed + HELDOUT_SEED, scale=held, actions=TALK_ACTIONS).choices()
    # every word of every prompt and action: nothing the model reads is <unk>
    texts = [p.text for p in corpus.prompts + heldout.prompts] + [" " + a for a in TALK_ACTIONS]
    tokenizer = build_tokenizer(extra_texts=texts)
    say(f"corpus: {len(corpus)} training examples, {len(heldout)} held out; vocabulary {len(tokenizer)}")
    model = build_model(tokenizer, seed)
    scorer = union_scorer(model, tokenizer)
    before = accuracy(scorer, heldout)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        losses = train(model, tokenizer, corpus, epochs, batch_size, lr, seed, log, actions=TALK_ACTIONS)
    report = {
        "model": "talk",
        "recipe_name": recipe,
        "seed": seed,
        "parameters": parameter_count(model),
        "vocabulary": len(tokenizer),
        "recipe": [
            {"label": label, "scenario": name, "config": config, "episodes": max(1, round(n * scale))}
            for label, name, config, n in lines
        ],
        "examples": {"train": len(corpus), "heldout": len(heldout)},
        "per_source": {s: int(c) for s, c in zip(*np.unique(corpus.source, return_counts=True), strict=True)},
        "epochs": epochs,
        "torch_threads": torch.get_num_threads(),
        "batch_size": batch_size,
        "lr": lr,
        "epsilon": 0.2,
        "losses": losses,
        "heldout_accuracy": accuracy(scorer, heldout),
        "heldout_accuracy_untrained": before,
        "chance_accuracy": chance(heldout),
        "train_accuracy": accuracy(scorer, corpus.take(range(0, len(corpus), 4))),
    }
    return model, tokenizer, report
