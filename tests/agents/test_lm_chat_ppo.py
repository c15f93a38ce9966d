"""PPO with LoRA on a local instruct model, in scoring mode: the learner prompts through the
model's chat template, only the adapters move, and its checkpoint keeps the template."""

from __future__ import annotations

import pytest
import torch
from chat_models import word_chat_model

import worlds
from agents.base import Observations
from agents.lm.learning import load_lm_learner
from agents.lm.ppo import LMPPO
from arena.lm.commands import drive

pytestmark = pytest.mark.usefixtures("one_thread")


def test_ppo_with_lora_on_a_local_instruct_model(tmp_path):
    pytest.importorskip("peft", reason="the lora extra (peft) is not installed")
    folder = word_chat_model(tmp_path / "chat", seed=2)
    maze = worlds.make_scenario("maze_v0", size=5, max_cycles=12)
    hyper = {"model": str(folder), "lora": 2, "lr": 3e-3, "rollout": 4, "epochs": 2, "minibatch": 8}
    agent = LMPPO(maze, 0, "cpu", **hyper)
    env = worlds.BatchEnv(maze, 3, seed=7)
    raw = env.reset()
    obs = Observations.of_batch(maze, env.world, raw, [0])
    prompts = agent.seat.prompts(obs)
    assert agent.seat.renderer is not None
    assert all(p.prefix.startswith("<|im_start|>system\n") for p in prompts)
    assert all(p.body.endswith("<|im_start|>assistant\nACTION:") for p in prompts)
    start = {k: v.clone() for k, v in agent.model.state_dict().items()}
    history = drive(agent, maze, num_worlds=4, steps=8, seed=1)
    assert len(history) == 2
    moved = {k for k, v in agent.model.state_dict().items() if not torch.equal(v, start[k])}
    assert moved == {k for k in start if ".lora_" in k}  # every adapter moved, no base weight did

    loaded = load_lm_learner(agent.save(tmp_path / "chat_ppo.safetensors"), device="cpu")
    assert loaded.seat.tokenizer.chat_template == agent.seat.tokenizer.chat_template
    assert loaded.seat.prompts(obs) == agent.seat.prompts(obs)
    a, b = agent._evaluate(obs), loaded._evaluate(obs)
    assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])  # policy and values, bit for bit
