"""Q-learning with a head on the LM's hidden state: learns from reward, saves/loads itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import worlds
from agents.base import Observations
from agents.lm.learning import load_lm_learner
from agents.lm.model import build_model
from agents.lm.qhead import LMQ
from arena.lm.commands import drive, play

CORRIDOR = "#######\n#0...G#\n#######\n"


@pytest.fixture()
def corridor(tmp_path):
    path = tmp_path / "corridor.txt"
    path.write_text(CORRIDOR)
    return worlds.make_scenario("maze_v0", map=str(path), max_cycles=12, view_size=5)


def learner(scenario, tokenizer, **hyper):
    lm = build_model(tokenizer, seed=0, hidden_size=32, intermediate_size=64, num_hidden_layers=2)
    base = {
        "model": "tiny",
        "learning_starts": 64,
        "epsilon_steps": 150,
        "target_every": 20,
        "batch_size": 64,
    }
    return LMQ(scenario, 0, "cpu", lm=lm, tokenizer=tokenizer, **(base | hyper))


class Greedy:
    def __init__(self, learner):
        self.learner = learner

    def act(self, obs):
        return self.learner.act(obs, explore=False)


@pytest.mark.slow
def test_q_head_learns_the_corridor_with_the_lm_frozen(tokenizer, corridor):
    agent = learner(corridor, tokenizer)
    frozen = {k: v.clone() for k, v in agent.model.state_dict().items()}
    before = play(corridor, [([0], Greedy(agent))], episodes=32, seed=100)
    history = drive(agent, corridor, num_worlds=8, steps=200, seed=0)
    after = play(corridor, [([0], Greedy(agent))], episodes=32, seed=100)
    assert history and all(np.isfinite(h["loss"]) for h in history)
    assert before["success"] < 0.5, before  # the untrained LM's prior does not walk the corridor
    assert after["success"] == 1.0 and after["length"] == 4, after  # the shortest way
    assert all(torch.equal(v, frozen[k]) for k, v in agent.model.state_dict().items())
    think = agent.thinking()
    assert think.kind == "q" and "prior" in think.extras


def test_transitions_pair_each_state_with_its_successor(tokenizer, corridor):
    agent = learner(corridor, tokenizer, learning_starts=10_000)
    drive(agent, corridor, num_worlds=2, steps=30, seed=3)
    n = agent.filled
    assert n > 0
    r = agent.replay
    # a non-terminal transition's next state is the state of the following step of that row:
    # its features appear as some stored state's features
    going = np.flatnonzero(~r["term"][:n])
    states = {row.tobytes() for row in r["h"][:n]}
    assert sum(r["h2"][k].tobytes() in states for k in going) >= 0.8 * len(going)
    assert (r["reward"][:n][r["term"][:n]] > 0).all()  # reaching the goal is the only termination


def test_checkpoint_round_trip_keeps_head_and_replay(tokenizer, corridor, tmp_path):
    agent = learner(corridor, tokenizer)
    drive(agent, corridor, num_worlds=4, steps=40, seed=1)
    path = agent.save(tmp_path / "lm_q.safetensors")
    loaded = load_lm_learner(path, device=agent.device)
    assert loaded.name == "lm_q" and loaded.filled == agent.filled and loaded.updates == agent.updates
    env = worlds.BatchEnv(corridor, 2, seed=5)
    raw = env.reset()
    obs = Observations.of_batch(corridor, env.world, raw, [0])
    h1, p1, _ = agent.features(obs)
    h2, p2, _ = loaded.features(obs)
    torch.testing.assert_close(agent.q_values(h1, p1), loaded.q_values(h2, p2))
