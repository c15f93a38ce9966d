"""Distillation II (`agents.lm.teacher`): a checkpoint's or a planner's action distribution
taught to an LM student by KL, the student's agreement with the teacher, DAgger collection and
the vocabulary a student grows for a scenario it was not built for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.base import Observations
from agents.lm import teacher as lm_teacher
from agents.lm.model import build_model, load_model
from agents.lm.policy import LMController
from agents.lm.scoring import Scorer
from agents.planners import make_planner
from agents.registry import load_controller
from worlds.batch import BatchEnv
from worlds.registry import make_scenario

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1}
MAZE_PPO = "assets/checkpoints/maze_v0_agents.safetensors"


def _first_rows(scenario, seed=0, worlds=4):
    env = BatchEnv(scenario, worlds, seed)
    raw = env.reset()
    return Observations.of_batch(scenario, env.world, raw, np.arange(scenario.num_agents))


def test_a_checkpoints_target_is_its_softmax_policy_over_legal_actions():
    scenario = make_scenario("maze_v0", size=7, style="open")
    teacher = load_controller(MAZE_PPO, device="cpu", scenario=scenario)
    obs = _first_rows(scenario)
    actions, probs = lm_teacher.teacher_policy(teacher, obs)
    shown = np.nan_to_num(teacher.thinking().values)  # what the viewer shows of its policy
    np.testing.assert_allclose(probs, shown, atol=1e-6)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert (probs[obs.action_mask == 0] == 0).all() and (probs.max(1) < 1.0).any()  # a distribution
    assert obs.action_mask[np.arange(len(actions)), actions].all()


def test_a_planners_targets_one_hot_or_every_best_move():
    scenario = make_scenario("maze_v0", size=7, style="open")
    obs = _first_rows(scenario, worlds=16)
    actions, onehot = lm_teacher.teacher_policy(make_planner(scenario, 0), obs, "policy")
    np.testing.assert_array_equal(onehot.argmax(1), actions)
    assert (onehot.max(1) == 1.0).all()
    planner = make_planner(scenario, 0)
    same, ties = lm_teacher.teacher_policy(planner, obs, "q")
    np.testing.assert_array_equal(same, actions)
    q = planner.thinking().extras["q"]
    best = np.nanmax(np.where(obs.action_mask == 1, q, np.nan), 1)
    for row, action in enumerate(actions.tolist()):
        where = np.flatnonzero(ties[row])
        assert action in where and np.allclose(ties[row, where], 1 / len(where))
        assert np.allclose(q[row, where], best[row])  # each one a move the planner rates best
    assert (ties > 0).sum(1).max() > 1  # in an open room two moves often shorten the way alike
    with pytest.raises(ValueError, match="target must be"):
        lm_teacher.teacher_policy(planner, obs, "softly")


def _distil(scenario, teacher, epochs=6):
    """Agreement and KL of a fresh tiny student with `teacher` on held-out states, before and
    after training on 16 worlds x 24 steps of the teacher's play."""
    from agents.lm.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    agents, opponent = np.arange(scenario.num_agents), make_planner(scenario, 0)
    corpus = lm_teacher.collect(scenario, teacher, agents, opponent, 16, 24, seed=0, epsilon=0.2)
    heldout = lm_teacher.collect(scenario, teacher, agents, opponent, 16, 8, seed=7000, epsilon=0.2)
    assert len(corpus) == 16 * 24 and len(heldout) == 16 * 8  # one live agent per world
    model = build_model(tokenizer, seed=4, **TINY)
    before = lm_teacher.agreement(model, tokenizer, scenario.actions, heldout)
    losses = lm_teacher.train(
        model, tokenizer, scenario.actions, corpus, epochs, batch_size=32, lr=1e-2, seed=1
    )
    after = lm_teacher.agreement(model, tokenizer, scenario.actions, heldout)
    assert losses[-1] < losses[0]
    return before, after


def test_distilling_a_checkpoint_raises_agreement_with_it():
    scenario = make_scenario("maze_v0", size=7, style="open", max_cycles=30)
    teacher = load_controller(MAZE_PPO, device="cpu", scenario=scenario)
    before, after = _distil(scenario, teacher)
    # measured: agreement 0.17 -> 0.47, KL 1.44 -> 1.08 (fixed seeds, one thread)
    assert after["agreement"] > before["agreement"] + 0.2, (before, after)
    assert after["kl"] < before["kl"] - 0.2, (before, after)


def test_distilling_a_planner_raises_agreement_with_it():
    scenario = make_scenario("maze_v0", size=7, style="open", max_cycles=30)
    before, after = _distil(scenario, make_planner(scenario, 0))
    # measured: agreement 0.24 -> 0.64, KL 1.48 -> 0.97
    assert after["agreement"] > before["agreement"] + 0.2, (before, after)
    assert after["kl"] < before["kl"] - 0.3, (before, after)


def test_dagger_rounds_label_the_states_the_student_reaches():
    scenario = make_scenario("maze_v0", size=7, style="open", max_cycles=30)
    from agents.lm.tokenizer import build_tokenizer

    tokenizer = build_tokenizer()
    student = LMController(build_model(tokenizer, seed=4, **TINY), tokenizer, scenario, seed=0)
    planner = make_planner(scenario, 0)
    agents = np.arange(1)
    taught = lm_teacher.collect(scenario, planner, agents, None, 4, 6, seed=5, actor=None)
    mine = lm_teacher.collect(scenario, planner, agents, None, 4, 6, seed=5, actor=student)
    assert len(mine) == len(taught) == 24
    # the first step is the same state; then the student's own moves take it elsewhere, and the
    # prompts remember what the student did
    assert [p.text for p in mine.prompts[:4]] == [p.text for p in taught.prompts[:4]]
    assert [p.text for p in mine.prompts] != [p.text for p in taught.prompts]
    moved = [p.body for p in mine.prompts[4:8]]
    assert all("Your last actions: none." not in body for body in moved)
    np.testing.assert_allclose(mine.target.sum(1), 1.0)  # every state labelled by the planner


def test_a_student_grows_the_words_of_a_new_scenario_and_keeps_its_own():
    scenario = make_scenario("keys_v0", max_cycles=10)
    model, tokenizer = load_model("default", "cpu")
    with pytest.raises(ValueError, match="cannot spell the action 'pickup'"):
        Scorer(model, tokenizer, scenario.actions)
    old_vocab, old_rows = tokenizer.get_vocab(), model.get_input_embeddings().weight.detach().clone()
    text = "You are agent_0 (team agents) at row 4, column 7; step 2 of 256."
    old_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    corpus = lm_teacher.collect(scenario, make_planner(scenario, 0), np.arange(1), None, 2, 3, seed=0)
    model, grown, added = lm_teacher.extend_vocabulary(
        model, tokenizer, lm_teacher.scenario_texts(scenario, corpus)
    )
    assert {"pickup", "toggle", "drop", "key", "door"} <= set(added)
    assert len(grown) == len(old_vocab) + len(added)
    assert all(grown.get_vocab()[w] == i for w, i in old_vocab.items())  # every old id kept
    assert grown(text, add_special_tokens=False)["input_ids"] == old_ids
    rows = model.get_input_embeddings().weight.detach()
    assert torch.equal(rows[: len(old_rows)], old_rows)
    assert torch.allclose(rows[len(old_rows) :], old_rows.mean(0).expand(len(added), -1))
    assert model.get_output_embeddings().weight.shape[0] == len(grown)  # tied: the head grew too
    scores = Scorer(model, grown, scenario.actions).score(corpus.prompts[:2]).scores
    assert torch.isfinite(scores).all()
    # a second pass finds nothing new
    again = lm_teacher.extend_vocabulary(model, grown, lm_teacher.scenario_texts(scenario, corpus))
    assert again[2] == [] and again[1] is grown
