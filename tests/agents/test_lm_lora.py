"""LoRA on the language model (`lm_ppo` hyper-parameter `lora`, peft): only the adapters train,
PPO moves them and nothing else, and checkpoints rebuild the adapted model exactly."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import worlds
from agents.base import Observations
from agents.lm.learning import load_lm_learner
from agents.lm.lora import adapter_names, add_lora, attention_layers
from agents.lm.model import build_model
from agents.lm.ppo import LMPPO
from agents.registry import load_controller
from arena.lm.commands import drive

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")  # a Llama's attention: the adapted layers


@pytest.fixture
def peft():
    return pytest.importorskip("peft")


@pytest.fixture
def maze():
    return worlds.make_scenario("maze_v0", size=5, max_cycles=12)


def learner(scenario, tokenizer, lora=4, seed=0, **hyper):
    lm = build_model(tokenizer, seed=seed, **TINY)
    base = {"model": "tiny", "lr": 3e-3, "rollout": 4, "epochs": 2, "minibatch": 8, "ent_coef": 0.01}
    return LMPPO(scenario, seed, "cpu", lm=lm, tokenizer=tokenizer, lora=lora, **(base | hyper))


def rows(scenario, worlds_count=3, seed=7) -> Observations:
    env = worlds.BatchEnv(scenario, worlds_count, seed=seed)
    raw = env.reset()
    return Observations.of_batch(scenario, env.world, raw, [0])


def test_only_the_adapters_train_and_ppo_moves_only_them(peft, tokenizer, maze):
    plain, agent = learner(maze, tokenizer, lora=0), learner(maze, tokenizer, lora=4)
    trainable = [n for n, p in agent.model.named_parameters() if p.requires_grad]
    assert trainable == adapter_names(agent.model) and len(trainable) == 2 * 4 * 2  # A, B x q,k,v,o x 2
    assert {id(p) for p in agent.optimizer.param_groups[0]["params"]} == {
        id(p) for p in agent.model.parameters() if p.requires_grad
    }
    obs = rows(maze)
    torch.testing.assert_close(agent._evaluate(obs)[2], plain._evaluate(obs)[2])  # B = 0: same policy
    start = {k: v.clone() for k, v in agent.model.state_dict().items()}
    history = drive(agent, maze, num_worlds=4, steps=8, seed=1)
    assert len(history) == 2 and all(np.isfinite(h["loss"]) for h in history)
    moved = {k for k, v in agent.model.state_dict().items() if not torch.equal(v, start[k])}
    assert moved == {k for k in start if ".lora_" in k}  # every adapter moved, no base weight did
    assert not torch.equal(agent._evaluate(obs)[2], plain._evaluate(obs)[2])


def test_checkpoint_round_trip_gives_identical_probabilities(peft, tokenizer, maze, tmp_path):
    agent = learner(maze, tokenizer, lora=2)
    drive(agent, maze, num_worlds=4, steps=4, seed=2)
    path = agent.save(tmp_path / "lora.safetensors")
    loaded = load_lm_learner(path, device="cpu")
    assert loaded.hyper == agent.hyper and loaded.hyper["lora"] == 2
    assert adapter_names(loaded.model) == adapter_names(agent.model)
    assert [n for n, p in loaded.model.named_parameters() if p.requires_grad] == adapter_names(agent.model)
    obs = rows(maze)
    a, b = agent._evaluate(obs), loaded._evaluate(obs)
    assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])  # policy and values, bit for bit
    seat = load_controller(path, device="cpu")  # what `--seat NAME=PATH` loads
    assert torch.equal(seat._evaluate(obs)[2], a[2])


def test_lora_from_the_command_line_leaves_the_shipped_weights(peft, tmp_path):
    from safetensors.torch import load_file

    from agents.lm.model import DEFAULT_DIR
    from arena.cli import main

    out = tmp_path / "run"
    hp = ["--hp", "lora=2", "--hp", "lr=0.01", "--hp", "rollout=4", "--hp", "epochs=1"]
    code = main(["train", "maze_v0:size=5:max_cycles=12", "--seat", "agents=lm_ppo", "--steps", "16",
                 "--worlds", "4", *hp, "--eval-worlds", "2", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    learner = load_controller(out / "agents.safetensors", device="cpu")
    assert learner.hyper["lora"] == 2 and adapter_names(learner.model)
    weights = learner.model.state_dict()
    for key, value in load_file(DEFAULT_DIR / "model.safetensors").items():
        adapted = (
            key.replace(".weight", ".base_layer.weight") if key.rsplit(".", 2)[-2] in PROJECTIONS else key
        )
        assert torch.equal(weights[adapted], value), key
    assert any(v.abs().sum() > 0 for k, v in weights.items() if ".lora_B." in k)


def test_attention_layers_of_a_gpt2(peft):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        n_layer=2, n_embd=16, n_head=2, vocab_size=40, n_positions=32, bos_token_id=0, eos_token_id=0
    )
    model = GPT2LMHeadModel(config).eval()  # no dropout
    assert attention_layers(model) == [
        f"transformer.h.{i}.attn.{n}" for i in (0, 1) for n in ("c_attn", "c_proj")
    ]
    ids = torch.arange(10)[None]
    before = model(ids).logits
    add_lora(model, 3, seed=0)
    assert len(adapter_names(model)) == 8 and torch.allclose(model(ids).logits, before)


def test_without_peft_the_error_names_the_extra(tokenizer, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft now raises ImportError
    with pytest.raises(ValueError, match=r"pip install -e '\.\[lora\]'"):
        add_lora(build_model(tokenizer, **TINY), 4)
    with pytest.raises(ValueError, match="lora rank must be >= 1"):
        add_lora(build_model(tokenizer, **TINY), 0)
