"""Instruct models as seats: chat-template prompts (with and without a template), the seat spec
`lm:SOURCE#OPTIONS`, reading generated answers, and generating seats on local models."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from chat_models import bpe_chat_model, word_chat_model, word_chat_tokenizer

import worlds
from agents.base import Observations
from agents.lm.answer import Tally, fall_back, parse_answer
from agents.lm.chat import ANSWER_CUE, Renderer, turns
from agents.lm.generation import LMGenerator
from agents.lm.model import DEFAULT_DIR, load_model
from agents.lm.policy import LMController
from agents.lm.prompt import build_prompt
from agents.lm.spec import LMSpec, parse_lm_spec
from agents.registry import make_controller
from worlds.errors import BadFileError, ConfigError

pytestmark = pytest.mark.usefixtures("one_thread")
TAG = ("noop", "north", "south", "east", "west", "tag")


def batch(name="tag_v0", num_worlds=2, seed=0, **config):
    scenario = worlds.make_scenario(name, **config)
    env = worlds.BatchEnv(scenario, num_worlds, seed)
    raw = env.reset()
    return scenario, Observations.of_batch(scenario, env.world, raw, np.arange(scenario.num_agents))


@pytest.fixture(scope="module")
def word_folder(tmp_path_factory):
    return word_chat_model(tmp_path_factory.mktemp("word_chat"))


@pytest.fixture(scope="module")
def bpe_folder(tmp_path_factory):
    return bpe_chat_model(tmp_path_factory.mktemp("bpe_chat"))


# -- reading answers ------------------------------------------------------------------------------
LEGAL = [True, True, True, False, True, False]  # east and tag illegal


@pytest.mark.parametrize(
    "text, action, status, said",
    [
        ("The runner is north of me.\nACTION: north", "north", "answered", "north"),
        ("**Action:** North.", "north", "answered", "north"),
        ("ACTION: west\nNo: a wall is there.\naction = south", "south", "answered", "south"),
        ("ACTION: `noop`", "noop", "answered", "noop"),
        ("north", "north", "bare", "north"),
        (" south south south", "south", "bare", "south"),
        ("ACTION: east", None, "illegal", "east"),
        ("tag", None, "illegal", "tag"),
        ("ACTION: jump", None, "malformed", "jump"),
        ("I will go north now.", None, "malformed", ""),
        ("", None, "malformed", ""),
    ],
)
def test_parse_answer(text, action, status, said):
    answer = parse_answer(text, TAG, LEGAL)
    assert answer.status == status and answer.said == said
    assert answer.action == (None if action is None else TAG.index(action))


def test_fallbacks_are_legal_and_counted():
    texts = ["ACTION: east", "ACTION: south", "hm", "north"]
    answers = [parse_answer(t, TAG, LEGAL) for t in texts]
    legal = np.array([LEGAL] * 4)
    rng = np.random.default_rng(0)
    for _ in range(20):
        actions = fall_back(answers, legal, rng)
        assert actions[1] == 2 and actions[3] == 1 and legal[np.arange(4), actions].all()
    tally = Tally()
    tally.add(answers)
    assert tally.counts == {"answered": 1, "bare": 1, "illegal": 1, "malformed": 1}
    assert tally.fallbacks == 2 and tally.summary() == "1 answered, 1 bare, 1 illegal, 1 malformed of 4"


# -- the seat spec --------------------------------------------------------------------------------
def test_seat_spec_syntax():
    assert parse_lm_spec("") == LMSpec()
    assert parse_lm_spec("#generate,greedy") == LMSpec(mode="generate", greedy=True)
    spec = parse_lm_spec("/models/qwen#generate,temperature=0.2,max_tokens=64,chat=on,think=false")
    assert spec == LMSpec("/models/qwen", "generate", False, 0.2, 64, "on", False)
    served = parse_lm_spec("http://127.0.0.1:8000/v1#qwen2.5:0.5b,generate,timeout=5,retries=0")
    assert served.served and served.model == "qwen2.5:0.5b" and served.timeout == 5 and served.retries == 0
    assert parse_lm_spec("https://host/v1#model=a/b,score").model == "a/b"


def test_seat_spec_from_a_json_file(tmp_path):
    config = tmp_path / "seat.json"
    served = {"source": "http://127.0.0.1:8000/v1", "model": "qwen", "mode": "generate", "greedy": True}
    config.write_text(json.dumps(served))
    spec = parse_lm_spec(f"{config}#max_tokens=32,greedy=false")  # options after # win
    assert spec == LMSpec("http://127.0.0.1:8000/v1", "generate", False, None, 32, model="qwen")
    bad = [
        ("[1]", "a seat config is a JSON object"),
        ('{"source": "x", "chat": [1]}', "option 'chat' must be"),
        ("{", "not a JSON seat config"),
    ]
    for text, words in bad:
        config.write_text(text)
        with pytest.raises(BadFileError, match=re.escape(f"{config}: {words}")):
            parse_lm_spec(str(config))


@pytest.mark.parametrize(
    "option, words",
    [
        ("#mode=think", "mode must be one of score, generate"),
        ("#temperature=0", "temperature must be > 0 to score"),
        ("#generate,max_tokens=0", "max_tokens must be >= 1"),
        ("#greedy=maybe", "greedy must be a bool"),
        ("#colour=red", "unknown lm seat option 'colour'"),
        ("#qwen", "use key=value"),
        ("#timeout=3", "timeout is for a served model"),
        ("#chat=always", "chat must be auto, on or off"),
        ("#generate,mode=score", "mode is given twice"),
    ],
)
def test_seat_spec_errors_name_the_option(option, words):
    with pytest.raises(ConfigError, match=words):
        parse_lm_spec(option)


# -- chat prompts ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["word", "bpe"])
def test_chat_prompt_renders_the_template_and_scores_like_the_reference(kind, word_folder, bpe_folder):
    model, tokenizer = load_model(str(word_folder if kind == "word" else bpe_folder))
    scenario, obs = batch()
    controller = LMController(model, tokenizer, scenario, seed=0)
    assert controller.renderer is not None  # chat="auto" and the tokenizer has a template
    prompts = controller.prompts(obs)
    texts = obs.texts()
    for prompt, text in zip(prompts, texts, strict=True):
        t = turns(scenario, text)
        whole = tokenizer.apply_chat_template(t.messages(), tokenize=False, add_generation_prompt=True)
        assert (
            tokenizer.bos_token or ""
        ) + prompt.text == whole + ANSWER_CUE or prompt.text == whole + ANSWER_CUE
        assert prompt.prefix.startswith("<|im_start|>system\nYou are an agent in tag_v0")
        assert "Description: Hunters chase runners" in prompt.prefix and "Rewards:" in prompt.prefix
        assert prompt.prefix.endswith("blank outside the map):\n")  # the legend closes the prefix
        assert prompt.body.endswith("Legal actions: " + text.split("Legal actions: ")[1] + "<|im_end|>\n"
                                    "<|im_start|>assistant\nACTION:")  # fmt: skip
        assert "Your last actions: none." in prompt.body
    assert len({p.prefix for p in prompts}) == 2  # hunters and runners: one cached prefix per task
    fast = controller.scorer.score(prompts).scores
    torch.testing.assert_close(fast, controller.scorer.score_naive(prompts), atol=2e-5, rtol=0)
    ids = controller.scorer.encode([prompts[0].prefix])[0]
    assert tokenizer.bos_token_id not in ids  # the template's own BOS was dropped: the scorer adds one
    actions = controller.act(obs)
    assert obs.action_mask[np.arange(len(obs)), actions].all()


def test_without_a_template_the_plain_prompt_is_kept(tokenizer, word_folder):
    model, _ = load_model(str(word_folder))
    scenario, obs = batch()
    plain = LMController(model, tokenizer, scenario, seed=0)  # the same words, no template
    assert plain.renderer is None
    assert plain.prompts(obs) == [build_prompt(t) for t in obs.texts()]
    with pytest.raises(ConfigError, match="chat=on: custom has no chat template"):
        LMController(model, tokenizer, scenario, chat="on")
    chat_model, chat_tokenizer = load_model(str(word_folder))
    off = LMController(chat_model, chat_tokenizer, scenario, chat="off")
    assert off.prompts(obs) == [build_prompt(t) for t in obs.texts()]


def test_extra_context_reaches_plain_and_chat_prompts(tokenizer, word_folder):
    scenario, obs = batch("maze_v0", num_agents=2)
    notes = [[f"Memory: row {k} saw a goal east.", "agent_1 says: go west."] for k in range(len(obs))]
    model, chat_tokenizer = load_model(str(word_folder))
    for tok in (tokenizer, chat_tokenizer):
        controller = LMController(model, tok, scenario, seed=0)
        controller.extra_context = lambda o: notes[: len(o)]
        for k, prompt in enumerate(controller.prompts(obs)):
            assert f"You stand on floor.\nMemory: row {k} saw a goal east.\nagent_1 says: go west.\n" \
                   "Your last actions: none." in prompt.body  # fmt: skip
    controller.extra_context = lambda o: notes[:1]
    with pytest.raises(ValueError, match="extra_context gave 1 rows of lines for 4 rows"):
        controller.prompts(obs)


def test_a_template_without_a_system_role_gets_the_rules_in_the_user_turn():
    no_system = (
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system role') }}"
        "{% endif %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    scenario, obs = batch("maze_v0")
    prompt = Renderer(word_chat_tokenizer(no_system), ANSWER_CUE).prompt(turns(scenario, obs.texts()[0]))
    assert prompt.prefix.startswith("<|im_start|>user\nYou are an agent in maze_v0")
    assert prompt.prefix.endswith("blank outside the map):\n") and prompt.body.endswith("assistant\nACTION:")


# -- generating seats -----------------------------------------------------------------------------
def test_a_generating_seat_reads_its_answers_and_counts_fallbacks(word_folder):
    scenario, obs = batch()
    seat = make_controller(f"lm:{word_folder}#generate,max_tokens=6", scenario, seed=3)
    assert isinstance(seat, LMGenerator) and seat.renderer is not None
    legal = obs.action_mask.astype(bool)
    for _ in range(2):
        actions = seat.act(obs)
        assert legal[np.arange(len(obs)), actions].all()
    stats = seat.stats
    assert (
        stats["decisions"]
        == 2 * len(obs)
        == sum(stats[s] for s in ("answered", "bare", "illegal", "malformed"))
    )
    assert stats["fallbacks"] == stats["illegal"] + stats["malformed"] > 0  # a random model rambles
    think = seat.thinking()
    assert think.kind == "probs" and np.isnan(think.values[~legal]).all()
    np.testing.assert_array_equal(np.nanargmax(think.values, 1), actions)
    assert len(think.extras["said"]) == len(obs) and think.extras["answers"].endswith(f"of {2 * len(obs)}")
    assert any("random legal action" in r for r in think.extras["read"])
    again = make_controller(f"lm:{word_folder}#generate,max_tokens=6", scenario, seed=3)
    again.act(obs)
    first = make_controller(f"lm:{word_folder}#generate,max_tokens=6", scenario, seed=3)
    first.act(obs)
    assert again.thinking().extras["said"] == first.thinking().extras["said"]  # seeded


def test_the_shipped_model_generating_names_its_best_scored_action():
    """Greedy generation after the plain prompt's cue writes the most likely next word; where
    that is a legal action, it is the scoring seat's argmax too."""
    scenario, obs = batch("maze_v0", num_worlds=6, num_agents=2)
    writer = make_controller("lm#generate,greedy,max_tokens=2", scenario, seed=0)
    scorer = make_controller("lm#greedy", scenario, seed=0)
    assert writer.renderer is None and writer.max_tokens == 2
    written, scored = writer.act(obs), scorer.act(obs)
    read = writer.thinking().extras["read"]
    bare = [k for k, r in enumerate(read) if r.startswith("bare: ")]
    assert len(bare) >= len(obs) - 2  # the distilled model answers with an action word
    np.testing.assert_array_equal(written[bare], scored[bare])


def test_lm_folder_seats_play_a_headless_match_and_their_words_are_recorded(word_folder, tmp_path):
    from arena.cli import main
    from arena.records.record import load_record

    record = tmp_path / "chat.npz"
    code = main([
        "watch", "maze_v0", "--config", "size=5", "--config", "max_cycles=4", "--headless",
        "--seat", f"agent_0=lm:{word_folder}#generate,max_tokens=4", "--out", str(tmp_path / "m.gif"),
        "--record", str(record),
    ])  # fmt: skip
    assert code == 0
    log = load_record(record)
    said = [extras[0]["said"] for step in range(len(log.actions)) if (extras := log.extras_at(step))]
    assert len(said) == len(log.actions) and all(isinstance(s, str) for s in said)
    assert all("answers" in log.extras_at(step)[0] for step in range(len(log.actions)))


def test_the_shipped_model_is_unchanged():
    assert (DEFAULT_DIR / "config.json").exists()
    scenario, obs = batch("maze_v0")
    seat = make_controller("lm", scenario, seed=0)
    assert isinstance(seat, LMController) and seat.renderer is None and seat.model_name == "default"
    assert seat.prompts(obs) == [build_prompt(t) for t in obs.texts()]
