"""Distillation: the planner-labelled corpus, and training that learns and repeats from a seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import worlds
from agents.lm.distill import ACTIONS, collect, train, union_scorer
from agents.lm.model import build_model
from agents.planners import make_planner

TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1}


def test_corpus_is_the_planners_actions_on_the_visited_states():
    scenario = worlds.make_scenario("maze_v0", style="open", size=7)
    corpus = collect(scenario, episodes=4, seed=3, epsilon=0.0)
    assert len(corpus) > 4 and set(corpus.source) == {"maze_v0"}
    assert corpus.legal[np.arange(len(corpus)), corpus.labels].all()
    # With epsilon 0 the executed actions are the labels: each prompt's history is the labels
    # before it (the corpus is in step order, world-major within a step).
    first = corpus.prompts[0].body
    assert "Your last actions: none." in first
    # the same seed gives the same corpus; the planner replays the same episodes
    again = collect(scenario, episodes=4, seed=3, epsilon=0.0)
    assert [p.text for p in again.prompts] == [p.text for p in corpus.prompts]
    np.testing.assert_array_equal(again.labels, corpus.labels)
    env = worlds.make_batch("maze_v0", num_worlds=4, seed=3, style="open", size=7)
    env.reset()
    planner = make_planner(scenario, 3)
    from agents.base import Observations

    obs = Observations.of_batch(scenario, env.world, env._observe(), [0])
    expected = [ACTIONS.index(scenario.actions[a]) for a in planner.act(obs)]
    np.testing.assert_array_equal(corpus.labels[:4], expected)


def test_exploration_leaves_the_planners_path_but_keeps_its_labels():
    scenario = worlds.make_scenario("plates_v0")
    calm = collect(scenario, episodes=3, seed=1, epsilon=0.0)
    wild = collect(scenario, episodes=3, seed=1, epsilon=0.5)
    assert len(wild) > len(calm)  # detours make longer episodes
    assert wild.legal[np.arange(len(wild)), wild.labels].all()
    assert any("Your last actions:" in p.body and "none" not in p.body for p in wild.prompts)


@pytest.mark.slow
def test_training_fits_the_action_words_and_repeats_from_its_seed(tokenizer):
    """A short run learns where the probability goes (the legal action words after the cue);
    reading the way from the view takes the full corpus (`arena lm train`: held-out accuracy
    0.70 vs 0.27 for a random legal action, in the shipped model card)."""
    scenario = worlds.make_scenario("maze_v0", style="open", size=7)
    corpus = collect(scenario, episodes=24, seed=0, label="open")
    heldout = collect(scenario, episodes=6, seed=5000, label="open")
    model = build_model(tokenizer, seed=4, **TINY)
    scorer = union_scorer(model, tokenizer)
    losses = train(model, tokenizer, corpus, epochs=5, batch_size=32, lr=1e-2, seed=9)
    assert all(a > b for a, b in zip(losses, losses[1:], strict=False)), losses
    assert losses[-1] < 1.7 and losses[0] > 3.5, losses
    with torch.no_grad():
        scores = scorer.score(heldout.prompts, cache=False).scores
    mass = scores[:, list(range(len(ACTIONS)))].exp().sum(1)  # probability of any action word
    assert mass.mean() > 0.7, mass.mean()  # from 6 words in 118 at the start
    # the same seeds give the same weights
    small = corpus.take(range(32))
    twins = [build_model(tokenizer, seed=4, **TINY) for _ in range(2)]
    for m in twins:
        train(m, tokenizer, small, epochs=1, batch_size=32, lr=1e-2, seed=9)
    for (name, a), (_, b) in zip(twins[0].named_parameters(), twins[1].named_parameters(), strict=True):
        assert torch.equal(a, b), name
