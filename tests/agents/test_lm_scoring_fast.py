"""The inference pass of a Llama (`agents.lm.llama_pass`) and the batched text views agree with
the reference paths: the model's own forward, the naive per-candidate scores, the per-row text view."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

import worlds
from agents.base import Observations
from agents.lm import llama_pass
from agents.lm.model import build_model
from agents.lm.prompt import build_prompt
from agents.lm.scoring import Scorer, _padded
from worlds.cells import CHAR_TABLE, NAME_OF
from worlds.observe import _direction_words, occupancy, text_view

LONG = ("noop", "north and north", "south", "east and west and east", "west", "tag")


@pytest.fixture(scope="module")
def llama(tokenizer):
    # 3 layers (the pass treats the last one apart), 4 query heads sharing 2 key/value heads
    return build_model(
        tokenizer, seed=4, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2,
    ).eval()  # fmt: skip


def batch_obs(name: str, num_worlds: int, steps: int, **config) -> Observations:
    scenario = worlds.make_scenario(name, **config)
    env = worlds.BatchEnv(scenario, num_worlds, 7)
    raw = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(steps):
        raw, *_ = env.step((raw["action_mask"] + rng.random(raw["action_mask"].shape)).argmax(-1))
    return Observations.of_batch(scenario, env.world, raw, np.arange(scenario.num_agents))


def prompts_of(obs: Observations):
    return [build_prompt(t, ["west", "tag", "north"][: k % 4]) for k, t in enumerate(obs.texts())]


@pytest.mark.parametrize("name", ["maze_v0", "tag_v0"])  # one prefix; two prefixes of two lengths
@pytest.mark.parametrize("chunk_tokens", [1, 4096])  # one row per layer pass; all rows at once
def test_llama_pass_equals_naive_scores(tokenizer, llama, monkeypatch, name, chunk_tokens):
    monkeypatch.setattr(llama_pass, "_CHUNK_TOKENS", chunk_tokens)
    prompts = prompts_of(batch_obs(name, 3, steps=5))[:7]
    assert (len({p.prefix for p in prompts}) == 2) == (name == "tag_v0")
    for actions in (worlds.make_scenario(name).actions, LONG):  # one token; 1 to 5 tokens (cache)
        scorer = Scorer(llama, tokenizer, actions)
        with torch.no_grad():
            assert llama_pass.fits(llama)
            fast = scorer.score(prompts).scores
        torch.testing.assert_close(fast, scorer.score_naive(prompts), atol=2e-5, rtol=1e-5)


def test_llama_pass_equals_the_models_forward_with_hidden_states(tokenizer, llama, monkeypatch):
    monkeypatch.setattr(llama_pass, "_CHUNK_TOKENS", 200)
    prompts = prompts_of(batch_obs("tag_v0", 4, steps=3))
    scorer = Scorer(llama, tokenizer, LONG)
    with torch.no_grad():
        fast = scorer.score(prompts, hidden=True)
        monkeypatch.setattr(llama_pass, "fits", lambda model: False)
        generic = scorer.score(prompts, hidden=True)
    torch.testing.assert_close(fast.scores, generic.scores, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(fast.hidden, generic.hidden, atol=2e-5, rtol=1e-5)
    assert fast.hidden.shape == (len(prompts), 32)


def test_llama_pass_only_without_gradients_and_only_for_llamas(tokenizer, llama):
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=16, n_layer=1, n_head=2))
    with torch.no_grad():
        assert llama_pass.fits(llama) and not llama_pass.fits(gpt2)
    assert not llama_pass.fits(llama)  # training keeps the model's own forward, as before


def test_padding_left_and_right():
    ids, length = _padded([[5, 6, 7], [8], [9, 10]], pad=0, left=False, device="cpu")
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]] and length.tolist() == [3, 1, 2]
    ids, _ = _padded([[5, 6, 7], [8], [9, 10]], pad=0, left=True, device="cpu")
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8], [0, 9, 10]]


def per_row_text_view(scenario, state, view, world, agent, mask) -> str:
    """The text view as it was written first, one row at a time (the reference)."""
    names, r = scenario.agent_names, scenario.view_size // 2
    row, col = state.pos[world, agent]
    team = scenario.team_names[scenario.teams[agent]]
    lines = [
        f"You are {names[agent]} (team {team}) at row {row}, column {col}; "
        f"step {state.t[world]} of {scenario.max_cycles}.",
        f"Your task: {scenario.goal_words(agent)}.",
    ]
    goal = state.goal[world, agent]
    if goal[0] >= 0:
        lines.append(f"Your goal is {_direction_words(goal - state.pos[world, agent])}.")
    chars = CHAR_TABLE[view[..., 0]].copy()
    p = state.pad
    window = occupancy(state)[world][row + p - r : row + p + r + 1, col + p - r : col + p + r + 1]
    others = []
    for y, x in np.argwhere(window >= 0):
        j = int(window[y, x])
        chars[y, x] = "@" if j == agent else str(j)
        if j != agent:
            kind = "teammate" if scenario.teams[j] == scenario.teams[agent] else "rival"
            others.append(f"{names[j]} ({kind}, shown as {j}) {_direction_words((y - r, x - r))}")
    lines.append(
        f"You see {scenario.view_size}x{scenario.view_size} cells around you, north up, "
        "you are @ in the middle (# wall, . floor, G goal, P pressure plate, D closed gate, "
        "d open gate, digits other agents, blank outside the map):"
    )
    lines += ["".join(line) for line in chars]
    lines.append("Others in view: " + ("; ".join(others) if others else "none") + ".")
    lines.append(f"You stand on {NAME_OF[int(view[r, r, 0])]}.")
    lines.append("Legal actions: " + ", ".join(scenario.actions[a] for a in np.flatnonzero(mask)) + ".")
    return "\n".join(lines)


TEXT_CASES = [("tag_v0", {}), ("tag_v0", {"view_size": 9}), ("maze_v0", {"num_agents": 2}), ("plates_v0", {})]


@pytest.mark.parametrize("name,config", TEXT_CASES)
def test_batched_text_views_are_the_per_row_text_views(name, config):
    seen_others = 0
    for steps in (0, 4, 9, 30):
        obs = batch_obs(name, 4, steps, **config)
        texts = obs.texts()
        rows = zip(obs.world.tolist(), obs.agent.tolist(), strict=True)
        for k, (b, i) in enumerate(rows):
            reference = per_row_text_view(obs.scenario, obs.state, obs.view[k], b, i, obs.action_mask[k])
            assert texts[k] == reference
            assert text_view(obs.scenario, obs.state, obs.view[k], b, i, obs.action_mask[k]) == reference
        seen_others += sum("Others in view: none." not in t for t in texts)
    assert seen_others > 0  # agents drawn as digits and listed were compared too
