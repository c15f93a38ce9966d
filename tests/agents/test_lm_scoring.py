"""The batched, cached scoring path agrees with naive per-candidate scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

import worlds
from agents.base import Observations
from agents.lm.model import build_model
from agents.lm.policy import LMController
from agents.lm.prompt import build_prompt
from agents.lm.scoring import Scorer

# Candidates of 1 to 5 tokens, so the second (cached) pass and its padding are exercised.
LONG = ("noop", "north and north", "south", "east and west and east", "west", "tag")


@pytest.fixture(scope="module")
def llama(tokenizer):
    return build_model(tokenizer, seed=1, hidden_size=32, intermediate_size=64, num_hidden_layers=2).eval()


@pytest.fixture(scope="module")
def gpt2(tokenizer):
    torch.manual_seed(2)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=512)
    return GPT2LMHeadModel(config).eval()


def tag_prompts(worlds_count: int = 2, steps: int = 4):
    """Prompts of hunters and runners (two prefixes), varied bodies and histories."""
    env = worlds.make_batch("tag_v0", num_worlds=worlds_count, seed=5, obs_type="text")
    obs = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(steps):
        obs, *_ = env.step((obs["action_mask"] + rng.random(obs["action_mask"].shape)).argmax(-1))
    texts = [t for row in obs["text"] for t in row][:6]  # both teams' prefixes, varied bodies
    return [build_prompt(t, ["west", "east", "tag"][: k % 4]) for k, t in enumerate(texts)]


@pytest.mark.parametrize(
    "arch,candidates,normalize",
    [
        ("llama", "scenario", "sum"),
        ("llama", "long", "token"),
        ("gpt2", "scenario", "word"),
        ("gpt2", "long", "sum"),
    ],
)
def test_batched_cached_scores_equal_naive_scores(request, tokenizer, arch, candidates, normalize):
    model = request.getfixturevalue(arch)
    actions = LONG if candidates == "long" else worlds.make_scenario("tag_v0").actions
    scorer = Scorer(model, tokenizer, actions, normalize)
    prompts = tag_prompts()
    assert len({p.prefix for p in prompts}) == 2 and len({len(p.body) for p in prompts}) > 3
    with torch.no_grad():
        fast = scorer.score(prompts).scores
        again = scorer.score(prompts[::-1]).scores  # from the prefix cache, rows reordered
    naive = scorer.score_naive(prompts)
    torch.testing.assert_close(fast, naive, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(again, naive.flip(0), atol=2e-5, rtol=1e-5)
    assert len(scorer._prefix_kv) == 2
    # the scores are real log-likelihoods: negative, and longer candidates (summed) lower
    assert (naive < 0).all()


def test_normalizations_divide_by_tokens_and_words(tokenizer, llama):
    prompts = tag_prompts(1, 1)
    with torch.no_grad():
        total, per_token, per_word = (
            Scorer(llama, tokenizer, LONG, norm).score(prompts).scores for norm in ("sum", "token", "word")
        )
    tokens = torch.tensor([1, 3, 1, 5, 1, 1.0])
    torch.testing.assert_close(per_token, total / tokens)
    torch.testing.assert_close(per_word, total / tokens)  # our words are single tokens


def test_gradient_path_matches_and_reaches_every_layer(tokenizer, llama):
    prompts = tag_prompts(2, 2)
    scorer = Scorer(llama, tokenizer, LONG)
    with torch.no_grad():
        cached = scorer.score(prompts).scores
    out = scorer.score(prompts, hidden=True)
    torch.testing.assert_close(out.scores.detach(), cached, atol=2e-5, rtol=1e-5)
    assert out.hidden.shape == (len(prompts), 32)
    (out.scores[:, 1].sum() + out.hidden.sum()).backward()
    for name, p in llama.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    llama.zero_grad(set_to_none=True)


def test_scores_of_rows_do_not_depend_on_their_batch(tokenizer, llama):
    prompts = tag_prompts()
    scorer = Scorer(llama, tokenizer, LONG)
    with torch.no_grad():
        together = scorer.score(prompts).scores
        alone = torch.cat([scorer.score([p]).scores for p in prompts])
    torch.testing.assert_close(together, alone, atol=2e-5, rtol=1e-5)


def test_controller_scores_equal_naive_on_batch_rows(tokenizer, llama):
    scenario = worlds.make_scenario("maze_v0", num_agents=2)
    env = worlds.make_batch("maze_v0", num_worlds=2, seed=1, num_agents=2)
    raw = env.reset()
    obs = Observations.of_batch(scenario, env.world, raw, [0, 1])
    controller = LMController(llama, tokenizer, scenario, seed=0)
    probs, scores = controller.probs(obs)
    naive = controller.scorer.score_naive(controller.prompts(obs)).numpy()
    np.testing.assert_allclose(scores, naive, atol=2e-5, rtol=1e-5)


def test_bad_arguments_fail_clearly(tokenizer, llama):
    with pytest.raises(ValueError, match="normalize"):
        Scorer(llama, tokenizer, LONG, "mean")
    with pytest.raises(ValueError, match="cannot spell the action 'jump'"):
        Scorer(llama, tokenizer, ("noop", "jump"))
    with pytest.raises(ValueError, match="no prompts"):
        Scorer(llama, tokenizer, LONG).score([])
