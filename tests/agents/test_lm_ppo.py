"""PPO on the language model: it learns a small maze from reward, fine-tuning lifts the shipped
model, and it saves/loads itself."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import worlds
from agents.base import Observations
from agents.lm.learning import load_lm_learner
from agents.lm.model import build_model
from agents.lm.ppo import LMPPO
from agents.lm.scoring import Scorer
from agents.planners import make_planner
from agents.registry import load_controller
from arena.lm.commands import drive, evaluated_seats, play

# A small maze with a turn: east, east, then south, south to the goal.
ELL = "#####\n#0..#\n###.#\n###G#\n#####\n"
TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}


@pytest.fixture()
def ell(tmp_path):
    path = tmp_path / "ell.txt"
    path.write_text(ELL)
    return worlds.make_scenario("maze_v0", map=str(path), max_cycles=16, view_size=5)


@pytest.fixture()
def dead_end():
    """A dead end (assets/maps/tag_corridor.txt): the hunter (0) must walk east to the cornered
    runner (1) and tag it."""
    return worlds.make_scenario("tag_v0", map="tag_corridor", num_agents=2, num_hunters=1, max_cycles=10)


class Greedy:
    def __init__(self, learner):
        self.learner = learner

    def act(self, obs):
        return self.learner.act(obs, explore=False)


def learner(scenario, tokenizer, seed=0, **hyper):
    lm = build_model(tokenizer, seed=seed, **TINY)
    base = {"model": "tiny", "lr": 3e-3, "rollout": 8, "epochs": 4, "minibatch": 64, "ent_coef": 0.0}
    return LMPPO(scenario, seed, "cpu", lm=lm, tokenizer=tokenizer, **(base | hyper))


@pytest.mark.slow
def test_ppo_on_the_lm_raises_success_on_a_small_maze(tokenizer, ell):
    torch.manual_seed(0)
    agent = learner(ell, tokenizer)
    before = play(ell, [([0], agent)], episodes=48, seed=100)
    history = drive(agent, ell, num_worlds=8, steps=8 * 10, seed=0)
    after = play(ell, [([0], agent)], episodes=48, seed=100)
    assert len(history) == 10 and all(np.isfinite(h["loss"]) for h in history)
    assert history[-1]["entropy"] < history[0]["entropy"]
    assert after["success"] >= 0.9 and after["success"] > before["success"] + 0.25, (before, after)
    assert after["length"] < before["length"]


@pytest.mark.slow
def test_fine_tuning_the_shipped_model_teaches_it_to_tag(dead_end, one_thread):
    """The distilled model walks up to the runner but almost never tags (the planners it learned
    from rarely do); PPO with the default hyper-parameters fixes that from reward alone."""
    torch.manual_seed(0)
    agent = LMPPO(dead_end, 0, "cpu", rollout=16)  # the shipped model

    def success(player) -> float:
        seats = evaluated_seats(dead_end, player, make_planner(dead_end, 0))
        return play(dead_end, seats, episodes=64, seed=100)["success"]

    before = success(agent), success(Greedy(agent))
    history = drive(agent, dead_end, num_worlds=16, steps=160, seed=0)
    after = success(agent), success(Greedy(agent))
    assert all(h["grad_norm"] > 0 for h in history)  # the gradient reaches the LM
    assert max(before) <= 0.1, before
    assert min(after) >= 0.8, (before, after)


def test_bootstrap_prompts_read_the_finished_episode(dead_end):
    """A truncated row is bootstrapped from its last observation: its prompt must describe the
    episode that ended (step 10 of 10), not the next one the world has already started."""
    seen = []

    class Recorder:
        def act(self, obs):
            return np.zeros(len(obs.world), np.int64)  # noop: every episode runs out of time

        def learn(self, tr):
            seen.extend(t for t, cut in zip(tr.next_obs.texts(), tr.truncated, strict=True) if cut)

    drive(Recorder(), dead_end, num_worlds=2, steps=12, seed=0)
    assert len(seen) == 2 and all("step 10 of 10." in text for text in seen), seen


def test_update_runs_on_schedule_and_changes_the_whole_lm(tokenizer, ell):
    agent = learner(ell, tokenizer, rollout=4, epochs=1, ent_coef=0.01)  # a gradient even without reward
    start = {k: v.clone() for k, v in agent.model.state_dict().items()}
    history = drive(agent, ell, num_worlds=4, steps=8, seed=1)
    assert [h["step"] for h in history] == [4, 8]
    for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "explained_variance"):
        assert np.isfinite(history[-1][key]), key
    changed = [k for k, v in agent.model.state_dict().items() if not torch.equal(v, start[k])]
    assert len(changed) == len(start)  # full fine-tuning: every tensor moved
    think = agent.thinking()
    assert think.kind == "probs" and "value" in think.extras


def test_a_time_out_ends_the_return(tokenizer, tmp_path):
    """The prompt shows the step count, so nothing follows the last step: with V = 1 everywhere
    and no reward, the last step's target is 0 (not gamma * V) and the one before gamma * (1 -
    lambda) (GAE with V = 1)."""
    path = tmp_path / "ell.txt"
    path.write_text(ELL)
    short = worlds.make_scenario("maze_v0", map=str(path), max_cycles=2, view_size=5)  # goal 4 away
    agent = learner(short, tokenizer, rollout=2, epochs=1, minibatch=64, gamma=0.99, gae_lambda=0.95)
    torch.nn.init.constant_(agent.value.net[2].bias, 1.0)
    (update,) = drive(agent, short, num_worlds=4, steps=2, seed=0)  # one episode, one step of Adam
    targets = np.array([0.99 * (1 - 0.95), 0.0])
    assert update["value_loss"] == pytest.approx(0.5 * np.mean((1 - targets) ** 2), rel=1e-5)


def test_target_kl_ends_an_update_early(tokenizer, ell):
    def optimizer_steps(**hyper) -> int:
        agent = learner(ell, tokenizer, rollout=4, epochs=4, minibatch=8, ent_coef=0.01, **hyper)
        drive(agent, ell, num_worlds=4, steps=4, seed=1)  # one update of 16 samples
        return int(agent.optimizer.state_dict()["state"][0]["step"])

    assert optimizer_steps() == 8  # 4 epochs of 2 minibatches
    assert 1 <= optimizer_steps(target_kl=1e-6) < 8


def test_checkpoint_rebuilds_the_learner_alone(tokenizer, ell, tmp_path):
    agent = learner(ell, tokenizer, rollout=4, epochs=1)
    drive(agent, ell, num_worlds=4, steps=4, seed=2)
    path = agent.save(tmp_path / "lm_ppo.safetensors")
    loaded = load_lm_learner(path, device="cpu")
    assert loaded.name == "lm_ppo" and loaded.hyper == agent.hyper
    seat = load_controller(path, device="cpu")  # what `--seat NAME=PATH` uses
    assert seat.name == "lm_ppo" and seat.hyper == agent.hyper
    env = worlds.BatchEnv(ell, 3, seed=7)
    raw = env.reset()
    obs = Observations.of_batch(ell, env.world, raw, [0])
    a, b = agent._evaluate(obs), loaded._evaluate(obs)
    torch.testing.assert_close(a[2], b[2])  # same policy
    torch.testing.assert_close(a[3], b[3])  # same values
    assert loaded.optimizer.state_dict()["state"].keys() == agent.optimizer.state_dict()["state"].keys()
    # damaged files fail with the file's name
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="broken.safetensors"):
        load_lm_learner(broken)
    with pytest.raises(ValueError, match="no such checkpoint"):
        load_lm_learner(tmp_path / "missing.safetensors")


def test_bad_hyper_parameters_fail_clearly(tokenizer, ell):
    with pytest.raises(ValueError, match="unknown hyper-parameters"):
        learner(ell, tokenizer, learning_rate=1.0)
    with pytest.raises(ValueError, match="rollout"):
        learner(ell, tokenizer, rollout=0)


def test_learner_refuses_rows_whose_actions_it_cannot_name(tokenizer, ell):
    tag = worlds.make_scenario("tag_v0", view_size=5)
    env = worlds.BatchEnv(tag, 1, seed=0)
    raw = env.reset()
    obs = Observations.of_batch(tag, env.world, raw, [0, 1])
    with pytest.raises(ValueError, match="has 5 actions"):  # the learner's own check
        learner(ell, tokenizer).act(obs)
    wide = learner(ell, tokenizer, num_actions=6)  # room for 6, but it can only name maze's 5
    with pytest.raises(ValueError, match="build the learner on the scenario with the most actions"):
        wide.act(obs)


def test_ewc_anchors_the_lm_at_a_task_end_and_holds_it_there(tokenizer, ell, tmp_path):
    """continual=ewc: the end of a task estimates the Fisher of the policy on recent prompts and
    anchors the LM's weights; on the next task the penalty keeps the weights that mattered
    closer to the anchor than the same learner without it, and a checkpoint keeps all of it."""
    # the corridor of `dead_end` with the maze's view size
    dead_end = worlds.make_scenario(
        "tag_v0", map="tag_corridor", num_agents=2, num_hunters=1, max_cycles=10, view_size=5
    )
    agent = learner(dead_end, tokenizer, continual="ewc", ewc_lambda=1e3, ewc_samples=8, rollout=4, epochs=1)
    drive(agent, ell, num_worlds=4, steps=8, seed=1)
    agent.end_task("ell")
    trainable = {name for name, p in agent.model.named_parameters() if p.requires_grad}
    assert agent.ewc.fisher.keys() == trainable and len(agent.recent[0]) == 8
    fisher = torch.cat([f.flatten() for f in agent.ewc.fisher.values()])
    assert torch.isfinite(fisher).all() and fisher.mean().item() == pytest.approx(1.0, rel=1e-4)
    assert agent.ewc.penalty(agent.model).item() == 0.0  # at the anchor

    loaded = load_lm_learner(agent.save(tmp_path / "ewc.safetensors"), device="cpu")
    assert all(torch.equal(loaded.ewc.fisher[k], v) for k, v in agent.ewc.fisher.items())
    assert [p.text for p in loaded.recent[0]] == [p.text for p in agent.recent[0]]

    plain = copy.deepcopy(agent)
    plain.ewc.lam = 0.0  # the same learner and Fisher, no penalty
    for player in (agent, plain):
        drive(player, dead_end, num_worlds=4, steps=16, seed=2)

    def moved(player) -> float:  # sum F (w - w*)^2 with the anchored task's Fisher
        return agent.ewc.penalty(player.model).item() / agent.ewc.lam

    assert moved(agent) < 0.5 * moved(plain), (moved(agent), moved(plain))


def test_ref_kl_keeps_the_policy_near_the_starting_model(tokenizer, ell, tmp_path):
    """ref_kl > 0: every update pays KL(pi || pi_start) to a frozen copy of the starting model,
    so the tuned policy stays closer to it than without; the copy is in the checkpoint."""

    def drift(**hyper) -> tuple[float, LMPPO]:
        agent = learner(ell, tokenizer, rollout=4, epochs=2, ent_coef=0.01, **hyper)
        start = Scorer(copy.deepcopy(agent.model), tokenizer, agent.scorer.actions, agent.scorer.normalize)
        drive(agent, ell, num_worlds=8, steps=24, seed=3)
        env = worlds.BatchEnv(ell, 16, seed=9)
        raw = env.reset()
        obs = Observations.of_batch(ell, env.world, raw, [0])
        prompts, legal, logp, _ = agent._evaluate(obs)
        legal = torch.as_tensor(legal)
        with torch.no_grad():
            logp_start = agent._log_policy(start.score(prompts).scores, legal)
        return float((logp.exp() * (logp - logp_start).where(legal, 0.0)).sum(-1).mean()), agent

    free, _ = drift()
    held, agent = drift(ref_kl=5.0)
    assert held < 0.5 * free, (held, free)
    loaded = load_lm_learner(agent.save(tmp_path / "ref.safetensors"), device="cpu")
    ref, again = agent.reference.model.state_dict(), loaded.reference.model.state_dict()
    assert all(torch.equal(ref[k], again[k]) for k in ref)


@pytest.mark.slow
def test_ptx_rehearses_the_planners_actions_from_the_distillation_corpus(tokenizer, ell, one_thread):
    """ptx_coef > 0: each minibatch adds the cross-entropy of the planners' actions on prompts of
    the distillation recipe (rows needing an action the learner lacks left out), so the policy
    agrees with the planners on them more than the same training without it."""

    def agreement(**hyper) -> tuple[float, LMPPO]:
        agent = learner(
            ell, tokenizer, rollout=4, epochs=4, minibatch=8, target_kl=0.0, ptx_scale=0.01, **hyper
        )
        drive(agent, ell, num_worlds=4, steps=16, seed=4)
        prompts, legal, labels = agent._rehearsal()
        with torch.no_grad():
            best = agent._log_policy(agent.scorer.score(prompts).scores, legal).argmax(1)
        return float((best == labels).float().mean()), agent

    plain, _ = agreement()
    rehearsed, agent = agreement(ptx_coef=2.0)
    prompts, legal, labels = agent.rehearsal
    assert len(prompts) > 50 and labels.max() < 5 and not legal[:, 5:].any()  # the maze's 5 actions
    assert all("Legal actions:" in p.text for p in prompts[:3])
    assert rehearsed > plain + 0.15, (plain, rehearsed)  # measured: 0.39 -> 0.66
