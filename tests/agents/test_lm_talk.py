"""Talking: the team channel delivers to teammates only, one step later; an LM seat picks a
message with its action and its teammates read it in their next prompt; a muted seat says
nothing; the talk model's corpus holds signal_v0's words."""

from __future__ import annotations

import numpy as np

import worlds
from agents.base import Observations
from agents.lm.model import build_model
from agents.lm.policy import LMController
from agents.lm.talk import SILENCE, TeamChannel, bubble_label, messages


def test_a_message_reaches_teammates_on_the_next_step_only():
    scenario = worlds.make_scenario("tag_v0", num_agents=4, num_hunters=2)  # hunters 0, 1; runners 2, 3
    channel = TeamChannel(scenario)
    channel.say(0, 0, 5, "runner north")
    channel.say(0, 2, 5, "walk east")
    channel.say(1, 1, 5, "runner west")  # another world
    assert channel.heard(0, 1, 5) == []  # not on the step it is said
    assert channel.heard(0, 1, 6) == ['hunter_0 says "runner north".']  # the teammate, next step
    assert channel.heard(0, 0, 6) == []  # not the speaker itself
    assert channel.heard(0, 3, 6) == ['runner_0 says "walk east".']  # runners hear runners only
    assert channel.heard(0, 1, 7) == []  # gone after a step
    channel.say(0, 0, 7, SILENCE)
    assert channel.heard(0, 1, 8) == []
    channel.say(1, 1, 0, "stay here")  # world 1 started over: its old words are dropped
    assert channel.last_words(1) == {1: "stay here"}


def test_messages_have_short_bubbles():
    for name in ("maze_v0", "plates_v0", "tag_v0", "forage_v0"):
        scenario = worlds.make_scenario(name)
        found = messages(scenario)
        assert found[0].text == SILENCE and len({m.text for m in found}) == len(found)
        assert all(len(m.label) <= 4 for m in found)
    plates = worlds.make_scenario("plates_v0")
    assert bubble_label(plates, "on plate") == "PLAT" and bubble_label(plates, "hello there") == "HELL"


def test_an_lm_seat_talks_and_its_teammate_reads_it_next_step(tokenizer):
    scenario = worlds.make_scenario("plates_v0")
    model = build_model(tokenizer, seed=3, hidden_size=32, intermediate_size=64, num_hidden_layers=1).eval()
    channel = TeamChannel(scenario)
    lm = LMController(model, tokenizer, scenario, seed=0, channel=channel)
    assert [m.text for m in lm.messages] == [m.text for m in messages(scenario)]  # all spelled
    env = worlds.BatchEnv(scenario, 2, 0)
    raw = env.reset()
    obs = Observations.of_batch(scenario, env.world, raw, [0, 1])
    before = lm.prompts(obs)
    assert not any("says" in p.body for p in before)
    actions = lm.act(obs)
    said = lm.thinking().extras["say"]
    assert len(said) == 4 and all(s in [m.text for m in lm.messages] for s in said)
    raw, *_ = env.step(actions.reshape(2, 2))
    obs = Observations.of_batch(scenario, env.world, raw, [0, 1])
    prompts = lm.prompts(obs)
    for row, (world, agent) in enumerate(obs.seats()):
        mate = 1 - agent
        text = said[world * 2 + mate]
        line = f'agent_{mate} says "{text}".'
        assert (line in prompts[row].body) == (text != SILENCE)
        assert f"agent_{agent} says" not in prompts[row].body
        # the message sits with the decision lines, before the legal actions
        if text != SILENCE:
            assert prompts[row].body.index(line) < prompts[row].body.index("Legal actions")
    silent = LMController(model, tokenizer, scenario, seed=0)
    assert not any("says" in p.body for p in silent.prompts(obs))
    silent.act(obs)
    assert "say" not in silent.thinking().extras


def planner_speaking(num_worlds: int):
    """The signal planner (agent_0 speaks), a first observation of `num_worlds` worlds, and its
    actions there."""
    from agents.planners import make_planner

    scenario = worlds.make_scenario("signal_v0")
    planner = make_planner(scenario, 0)
    planner.scenario = scenario
    env = worlds.BatchEnv(scenario, num_worlds, 0)
    raw = env.reset()
    obs = Observations.of_batch(scenario, env.world, raw, [0, 1])
    return planner, obs, planner.act(obs)


def test_a_muted_signal_seat_never_speaks():
    from arena.lm.talk import Muted

    planner, obs, spoken = planner_speaking(4)
    assert (spoken >= 5).any()  # the planner's speaker says the target's colour
    muted = Muted(planner).act(obs)
    assert (muted < 5).all() and (muted[spoken < 5] == spoken[spoken < 5]).all()


def test_the_talk_corpus_labels_speakers_with_words_and_listeners_with_moves():
    from agents.lm.distill import collect
    from agents.lm.talk_model import TALK_ACTIONS, signal_recipe

    lines = signal_recipe(seed=0, configs=3)
    train = {tuple(sorted(c.items())) for _, _, c, _ in signal_recipe(seed=0, configs=12)}
    import itertools

    test = [
        {k: v for k, v in t.config.items() if k != "layout_seed"}
        for t in itertools.islice(worlds.tasks("signal", "test", 0), 40)
    ]
    assert not train & {tuple(sorted(c.items())) for c in test}  # the measured combinations stay held out
    _, name, config, _ = lines[0]
    scenario = worlds.make_scenario(name, **config)
    corpus = collect(scenario, episodes=3, seed=0, epsilon=0.0, actions=TALK_ACTIONS)
    words = np.array([TALK_ACTIONS[k].startswith("say_") for k in corpus.labels])
    assert words.any() and (~words).any()
    heard = [p.body for p, w in zip(corpus.prompts, words, strict=True) if not w]
    assert any(' says "' in body for body in heard)  # listeners' prompts carry what was said


def test_a_babbling_signal_seat_says_random_words_where_it_would_speak():
    from arena.lm.talk import Babble

    planner, obs, spoken = planner_speaking(64)
    babbled = Babble(planner, seed=0).act(obs)
    says = spoken >= 5
    assert (babbled[~says] == spoken[~says]).all() and (babbled[says] >= 5).all()
    assert len(set(babbled[says].tolist())) == 4  # every word, whatever the target
    assert (babbled[says] != spoken[says]).any()


def test_arena_lm_talk_signal_measures_words_against_silence_and_babble(capsys):
    import json

    from arena.cli import main

    assert main(["lm", "talk", "signal", "--tasks", "1", "--worlds", "2", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["setup"]["conditions"] == ["words", "muted", "babble"]
    assert results["setup"]["model"] == "talk"  # the shipped talk model loads
    for condition in ("words", "muted", "babble"):
        assert 0.0 <= results[condition]["success"][0] <= 1.0
    diffs = results["differences"]
    assert set(diffs) == {"words - muted", "words - babble"}
    words = results["words"]["per_task"][0]
    assert diffs["words - babble"][0] == words - results["babble"]["per_task"][0]


def test_the_shipped_talk_model_speaker_names_the_target():
    from agents.registry import make_controller
    from worlds.scenarios.signal_v0 import COLOURS

    scenario = worlds.make_scenario("signal_v0")  # agent_0 speaks, agent_1 listens
    env = worlds.BatchEnv(scenario, 32, 0)
    raw = env.reset()
    speaker = make_controller("lm:talk", scenario, seed=0)
    said = np.asarray(speaker.act(Observations.of_batch(scenario, env.world, raw, [0])))
    target = np.asarray(env.world.extra["target"])
    words = [scenario.actions[k] for k in said]
    named = [w == f"say_{COLOURS[t]}" for w, t in zip(words, target.tolist(), strict=True)]
    assert np.mean(named) >= 0.9  # a speaker at chance names it about a third of the time
