"""Served models as seats (`lm:http://HOST:PORT/v1#MODEL`), against real servers on 127.0.0.1:

* `transformers serve` (a subprocess) serving a copy of the shipped model with a chat template:
  generation through chat completions, the fallback from scoring (it returns no log-probabilities),
  an unknown model;
* the small OpenAI-compatible server of `lm_server.py` (it returns prompt log-probabilities, as
  vLLM does): scoring equal to the local model's, every row in flight at once, generation, a
  recorded headless match;
* no server at all: one clear line.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from chat_models import word_chat_model
from lm_server import ModelServer

import worlds
from agents.base import Observations
from agents.lm.generation import LMGenerator
from agents.lm.model import DEFAULT_DIR, load_model, smollm2_file
from agents.lm.policy import LMController
from agents.lm.served import ServerError
from agents.lm.served_seat import ServedController
from agents.registry import make_controller

pytest.importorskip("openai", reason="the served extra (openai) is not installed")
pytestmark = pytest.mark.usefixtures("one_thread")
NAME = "grid-arena-default"
# the shipped model read its prompts as `grid-arena-prompt-v1`: this template gives it exactly
# that (BOS, the user turn, which is that prompt without its cue, and the cue), so served it
# answers as it does locally
SHIPPED_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}\nAction:{% endif %}"
)


def batch(num_worlds=4, seed=0):
    scenario = worlds.make_scenario("maze_v0", num_agents=2)
    env = worlds.BatchEnv(scenario, num_worlds, seed)
    raw = env.reset()
    return scenario, Observations.of_batch(scenario, env.world, raw, [0, 1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    with ModelServer(str(DEFAULT_DIR), NAME) as running:
        yield running


# -- a server that returns prompt log-probabilities ----------------------------------------------
def test_scoring_over_http_equals_the_local_model_and_sends_every_row_at_once(server):
    scenario, obs = batch()
    server.delay, server.max_in_flight = 0.3, 0  # each request waits, so the rows overlap
    try:
        seat = make_controller(f"lm:{server.url}#{NAME},greedy", scenario, seed=0)
        assert isinstance(seat, ServedController) and seat.mode == "score" and not seat.fell_back
        probs, scores = seat.probs(obs)
    finally:
        server.delay = 0.0
    assert server.max_in_flight == len(obs)
    local = make_controller("lm", scenario, seed=0)
    local_probs, local_scores = local.probs(obs)
    np.testing.assert_allclose(scores, local_scores, atol=1e-4)
    np.testing.assert_allclose(probs, local_probs, atol=1e-5)
    actions = seat.act(obs)
    np.testing.assert_array_equal(actions, local_probs.argmax(1))
    assert np.isnan(seat.thinking().values[obs.action_mask == 0]).all()


def test_scoring_a_chat_prompt_over_http_with_the_models_template(tmp_path):
    folder = word_chat_model(tmp_path / "chat", seed=1)
    scenario, obs = batch(num_worlds=2)
    with ModelServer(str(folder), "tiny-chat") as chat_server:
        seat = make_controller(f"lm:{chat_server.url}#template={folder}", scenario, seed=0)
        assert seat.server.model == "tiny-chat"  # the only model served needs no name
        assert all(c.endswith("<|im_start|>assistant\nACTION:") for c in seat.contexts(obs))
        _, scores = seat.probs(obs)
    model, tokenizer = load_model(str(folder))
    local = LMController(model, tokenizer, scenario, seed=0)
    assert local.renderer is not None
    np.testing.assert_allclose(scores, local.probs(obs)[1], atol=1e-4)


def test_generation_over_http_reads_answers_and_is_recorded(server, tmp_path):
    from arena.cli import main
    from arena.records.record import load_record

    scenario, obs = batch()
    seat = make_controller(f"lm:{server.url}#{NAME},generate,chat=off,greedy,max_tokens=2", scenario, seed=0)
    assert seat.mode == "generate" and not seat.chat
    actions = seat.act(obs)
    read = seat.thinking().extras["read"]
    bare = [k for k, r in enumerate(read) if r.startswith("bare: ")]
    assert len(bare) >= len(obs) - 2 and seat.stats["decisions"] == len(obs)
    best = make_controller("lm#greedy", scenario, seed=0).act(obs)
    np.testing.assert_array_equal(actions[bare], best[bare])

    record = tmp_path / "served.npz"
    spec = f"agent_0=lm:{server.url}#{NAME},generate,chat=off,max_tokens=2"
    code = main(["watch", "maze_v0", "--config", "size=5", "--config", "max_cycles=3", "--headless",
                 "--seat", spec, "--out", str(tmp_path / "m.gif"), "--record", str(record)])  # fmt: skip
    assert code == 0
    log = load_record(record)
    assert all("said" in log.extras_at(step)[0] for step in range(len(log.actions)))


def test_an_unknown_model_or_a_server_that_is_down_is_one_clear_line(server):
    scenario, _ = batch(num_worlds=1)
    with pytest.raises(ServerError, match=f"does not serve model 'nope'; it serves: {NAME}"):
        make_controller(f"lm:{server.url}#nope", scenario)
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ServerError, match=f"cannot reach the model server at {url} .*is it running") as err:
        make_controller(f"lm:{url}#x,retries=0,timeout=5", scenario)
    assert "\n" not in str(err.value)


def test_a_failed_request_is_retried_with_backoff_then_reported(server):
    scenario, obs = batch(num_worlds=1, seed=1)
    seat = make_controller(f"lm:{server.url}#{NAME},retries=1", scenario, seed=0)
    before, server.fail_next = server.requests, 1
    scores = seat.probs(obs)[1]  # the first request of the step got a 503, its retry an answer
    assert server.requests - before == len(obs) + 1 and server.fail_next == 0
    np.testing.assert_allclose(scores, make_controller("lm", scenario).probs(obs)[1], atol=1e-4)
    stubborn = make_controller(f"lm:{server.url}#{NAME},retries=0", scenario, seed=0)
    server.fail_next = 1
    with pytest.raises(ServerError, match="while scoring the actions: HTTP 503: overloaded"):
        stubborn.probs(obs)


# -- transformers serve ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hf_server(tmp_path_factory):
    """`transformers serve` on a copy of the shipped model with SHIPPED_TEMPLATE; (url, model id)."""
    pytest.importorskip("fastapi", reason="transformers serve needs fastapi and uvicorn (the test extra)")
    pytest.importorskip("uvicorn", reason="transformers serve needs fastapi and uvicorn (the test extra)")
    folder = tmp_path_factory.mktemp("served") / "shipped-chat"
    shutil.copytree(DEFAULT_DIR, folder)
    _, tokenizer = load_model(str(folder))
    tokenizer.chat_template = SHIPPED_TEMPLATE
    tokenizer.save_pretrained(folder)
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(folder), "--host",
               "127.0.0.1", "--port", str(port), "--device", "cpu", "--log-level", "warning"]  # fmt: skip
    log = tmp_path_factory.mktemp("served_log") / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 300  # importing the serving stack is slow on a loaded VM
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"transformers serve did not start:\n{log.read_text()[-2000:]}")
                time.sleep(1)
        yield f"http://127.0.0.1:{port}/v1", str(folder)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_transformers_serve_generates_as_the_local_model_does(hf_server):
    url, model = hf_server
    scenario, obs = batch(num_worlds=3)
    seat = make_controller(f"lm:{url}#model={model},generate,greedy,max_tokens=2", scenario, seed=0)
    assert seat.chat and seat.server.model == model
    actions = seat.act(obs)
    lm, tokenizer = load_model(model)
    assert tokenizer.chat_template == SHIPPED_TEMPLATE
    local = LMGenerator(lm, tokenizer, scenario, seed=0, greedy=True, max_tokens=2)
    np.testing.assert_array_equal(actions, local.act(obs))
    assert seat.thinking().extras["read"] == local.thinking().extras["read"]
    assert seat.stats == local.stats and seat.stats["bare"] >= len(obs) - 2


@pytest.mark.slow
def test_transformers_serve_cannot_score_so_the_seat_generates_and_says_why(hf_server, capsys):
    url, model = hf_server
    scenario, obs = batch(num_worlds=1)
    seat = make_controller(f"lm:{url}#model={model},max_tokens=2", scenario, seed=0)
    said = capsys.readouterr().err
    assert seat.mode == "generate" and "offers no prompt log-probabilities" in seat.fell_back
    assert said.count("\n") == 1 and "it generates its answers instead" in said
    actions = seat.act(obs)
    assert obs.action_mask[np.arange(len(obs)), actions].all()
    assert seat.thinking().extras["mode"].startswith("generates: ")
    with pytest.raises(ServerError, match="does not serve model 'nope'"):
        make_controller(f"lm:{url}#nope", scenario)


def test_smollm2_served_plays_legal_moves():
    if smollm2_file() is None:
        pytest.skip("optional extra smollm2 not installed")
    scenario, obs = batch(num_worlds=1)
    with ModelServer("smollm2", "smollm2") as running:
        seat = make_controller(f"lm:{running.url}#smollm2,generate,max_tokens=32", scenario, seed=0)
        actions = seat.act(obs)
    assert obs.action_mask[np.arange(len(obs)), actions].all() and seat.stats["decisions"] == len(obs)
