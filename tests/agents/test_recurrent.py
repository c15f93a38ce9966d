"""The recurrent policy option (`core=gru|lstm`): the core state is zeroed row by row where an
episode starts and carried otherwise, kept by (world, agent), resumed exactly from a checkpoint,
played in a PettingZoo seat whose rows come and go, and learnt from on sequences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from learning_loop import train

import worlds
from agents.base import Observations
from agents.checkpoint import load_learner, make_learner
from agents.memory import with_memory
from agents.policy_gradient import PolicyGradient
from agents.recurrent import RecurrentPolicyGradient, rl2_context
from agents.registry import load_controller

pytestmark = pytest.mark.usefixtures("one_thread")

MAZE2 = worlds.make_scenario("maze_v0", size=5, max_cycles=6, num_agents=2)  # agents leave at different times
SMALL = {"rollout": 5, "hidden": 16, "minibatches": 2, "epochs": 2}


def recurrent(algo="ppo", scenario=MAZE2, **hyper):
    return make_learner(algo, scenario, "cpu", seed=1, **(SMALL | hyper))


def same_state(a, b) -> bool:
    (ta, ea), (tb, eb) = a.state(), b.state()
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta) and ea == eb


@pytest.mark.parametrize("core", ["gru", "lstm"])
def test_the_core_state_restarts_where_an_episode_starts_and_carries_on_elsewhere(core):
    agent = recurrent(core=core)
    assert isinstance(agent, RecurrentPolicyGradient) and agent.net.state_size == 16 * (1 + (core == "lstm"))
    env = worlds.BatchEnv(MAZE2, 6, seed=0)
    raw = env.reset()
    mixed = carried = 0
    for _ in range(30):
        obs = Observations.of_batch(MAZE2, env.world, raw, range(2))
        before = (
            agent.hidden.clone() if agent.hidden is not None else torch.zeros((6, 2, agent.net.state_size))
        )
        actions = agent.act(obs)
        starts = torch.as_tensor(obs.steps() == 0)
        mine = before[obs.world, obs.agent]
        expected_in = torch.where(starts[:, None], torch.zeros_like(mine), mine)
        with torch.no_grad():
            _, _, expected = agent.net.step(torch.as_tensor(with_memory(obs, "last_move")), None, expected_in)
        assert torch.allclose(agent.hidden[obs.world, obs.agent], expected, atol=1e-6)
        mixed += bool(starts.any() and (~starts).any())  # some worlds restart while others go on
        carried += int((mine[~starts].abs().sum(1) > 0).sum())
        raw, *_ = env.step(actions.reshape(6, 2))
    assert mixed >= 3 and carried > 50


def test_rl2_starts_and_context_are_the_callers():
    """`starts` replaces the episode-start rule (RL^2 carries the state into the next trial) and
    `context` is read by the core: another previous reward, another policy."""
    agent = recurrent(core="gru", context="rl2", memory="none")
    env = worlds.BatchEnv(MAZE2, 3, seed=0)
    raw = env.reset()
    obs = Observations.of_batch(MAZE2, env.world, raw, range(2))
    n = len(obs)
    quiet = rl2_context(np.full(n, -1), np.zeros(n), np.ones(n), agent.num_actions)
    agent.act(obs, starts=np.ones(n, bool), context=quiet)
    first = agent.hidden.clone()
    agent.act(obs, starts=np.zeros(n, bool), context=quiet)  # t == 0, yet the state carries on
    assert not torch.allclose(agent.hidden, first)
    agent.act(obs, starts=np.ones(n, bool), context=quiet)
    assert torch.allclose(agent.hidden, first)
    rewarded = rl2_context(np.full(n, 2), np.ones(n), np.ones(n), agent.num_actions)
    agent.act(obs, starts=np.ones(n, bool), context=rewarded)
    assert not torch.allclose(agent.hidden, first)
    with pytest.raises(ValueError, match="context of shape"):
        agent.act(obs, context=quiet[:, :3])


@pytest.mark.parametrize("algo,core", [("ppo", "gru"), ("a2c", "lstm"), ("reinforce", "gru")])
def test_a_resumed_recurrent_learner_continues_exactly(algo, core, tmp_path):
    """Stopped mid-rollout with its core states saved, a learner resumes as if never stopped."""
    straight = recurrent(algo, core=core)
    train(straight, MAZE2, 23, num_worlds=4, seed=0)
    path = straight.save(tmp_path / "mid.safetensors")
    train(straight, MAZE2, 17, num_worlds=4, seed=100)
    resumed = load_controller(path, device="cpu")
    assert type(resumed) is RecurrentPolicyGradient and resumed.hyper["core"] == core
    train(resumed, MAZE2, 17, num_worlds=4, seed=100)
    assert same_state(straight, resumed)
    assert "hidden" in straight.state()[0]


def test_a_seat_checkpoint_leaves_out_the_states_and_still_acts(tmp_path):
    agent = recurrent(core="gru")
    train(agent, MAZE2, 12, num_worlds=4)
    lean = load_learner(agent.save(tmp_path / "lean.safetensors", buffers=False), "cpu")
    assert lean.hidden is None and lean.t == 0
    env = worlds.BatchEnv(MAZE2, 4, seed=9)
    raw = env.reset()
    obs = Observations.of_batch(MAZE2, env.world, raw, range(2))
    agent.hidden = None
    assert np.array_equal(agent.act(obs, explore=False), lean.act(obs, explore=False))


def test_a_recurrent_checkpoint_plays_a_pettingzoo_game_whose_agents_leave(tmp_path):
    path = recurrent(core="lstm").save(tmp_path / "seat.safetensors")
    seat = load_controller(path, device="cpu")
    env = worlds.make_parallel("maze_v0", size=5, max_cycles=12, num_agents=2)
    for seed in (0, 1):
        obs, _ = env.reset(seed=seed)
        while env.agents:
            rows = Observations.of_env(env, obs, env.agents)
            actions = seat.act(rows, explore=False)
            assert rows.action_mask[np.arange(len(actions)), actions].all()
            obs, *_ = env.step(dict(zip(env.agents, actions.tolist(), strict=True)))
    assert seat.hidden.shape[:2] == (1, 2)


def test_recurrent_ppo_updates_on_sequences_and_learns_an_open_room():
    """A GRU PPO beats its untrained self in an open 5x5 room (smoke test of the sequence
    update: the loss and the gradient flow through the unrolled core)."""
    room = worlds.make_scenario("maze_v0", size=5, style="open", max_cycles=12)
    agent = recurrent(core="gru", scenario=room, hidden=32, rollout=16, lr=3e-3)
    from learning_loop import evaluate

    before = evaluate(agent, room, episodes=64)
    updates = train(agent, room, 400, num_worlds=8)
    assert len(updates) == 25 and all(np.isfinite(u["loss"]) for u in updates)
    assert evaluate(agent, room, episodes=64) >= max(0.8, before + 0.4)


def test_recurrent_options_are_checked():
    with pytest.raises(ValueError, match="core must be one of"):
        recurrent(core="transformer")
    with pytest.raises(ValueError, match="context must be one of"):
        recurrent(core="gru", context="everything")
    with pytest.raises(ValueError, match="neither continual learning nor a centralized critic"):
        recurrent(core="gru", continual="ewc")
    with pytest.raises(ValueError, match="need the recurrent learner"):
        PolicyGradient(MAZE2, core="gru")
    assert type(recurrent()) is PolicyGradient  # core=none: the feed-forward learner, as before
