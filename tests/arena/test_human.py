"""The human controller (keys to actions) and seats: who drives which agent, take-over and
hand-back. No window is needed: keys are handed over by name, as the viewer does."""

from __future__ import annotations

import numpy as np
import pytest

import worlds
from agents.base import Observations
from agents.human import Human
from agents.registry import make_controller
from arena.match import Match
from arena.seats import Seating, parse_seats

NOOP, NORTH, SOUTH, EAST, WEST, TAG = range(6)


def observations(name: str, seed: int = 0, **config):
    env = worlds.make_parallel(name, **config)
    obs, _ = env.reset(seed=seed)
    return env, Observations.of_env(env, obs, env.possible_agents)


def open_mask(obs: Observations) -> Observations:
    """The same rows with every action legal, so the key alone decides."""
    obs.action_mask = np.ones_like(obs.action_mask)
    return obs


@pytest.mark.parametrize(
    ("keys", "key", "action"),
    [
        ("wasd", "w", NORTH),
        ("wasd", "s", SOUTH),
        ("wasd", "d", EAST),
        ("wasd", "a", WEST),
        ("wasd", "e", TAG),
        ("wasd", "q", NOOP),
        ("arrows", "up", NORTH),
        ("arrows", "down", SOUTH),
        ("arrows", "right", EAST),
        ("arrows", "left", WEST),
        ("arrows", "return", TAG),
        ("arrows", "right shift", NOOP),
    ],
)
def test_each_key_gives_its_action_to_every_row(keys, key, action):
    _, obs = observations("tag_v0")
    human = Human(keys)
    assert human.press(key)
    assert human.act(open_mask(obs)).tolist() == [action] * 4


def test_one_keymap_ignores_the_other_and_a_lone_human_has_both():
    assert not Human("arrows").press("w")
    assert not Human("wasd").press("up")
    both = Human()
    assert both.press("w") and both.press("up")


def test_no_key_is_noop_a_held_key_repeats_and_a_tap_counts_once():
    _, obs = observations("tag_v0")
    obs = open_mask(obs)
    human = Human("wasd")
    assert human.act(obs).tolist() == [NOOP] * 4
    human.press("d")
    assert human.act(obs)[0] == EAST
    assert human.act(obs)[0] == EAST  # still held: real-time play repeats it
    human.release("d")
    assert human.act(obs)[0] == NOOP
    human.press("a")
    human.release("a")  # pressed and released between two steps: still one step west
    assert human.ready
    assert human.act(obs)[0] == WEST
    assert not human.ready and human.act(obs)[0] == NOOP


def test_an_illegal_move_is_a_noop_and_interact_is_a_noop_without_interactions():
    _, obs = observations("maze_v0", style="open", size=7)
    obs = open_mask(obs)
    obs.action_mask[:, EAST] = 0  # a wall to the east
    human = Human("wasd")
    human.press("d")
    assert human.act(obs).tolist() == [NOOP]
    human.press("a")
    assert human.act(obs).tolist() == [WEST]
    human.press("e")  # maze_v0 has no interaction
    assert human.act(obs).tolist() == [NOOP]


def test_legend_speaks_the_scenario_words():
    tag = worlds.make_scenario("tag_v0").actions
    maze = worlds.make_scenario("maze_v0").actions
    assert ("E", "tag") in Human("wasd").legend(tag)
    assert all(does != "tag" for _, does in Human("wasd").legend(maze))
    assert ("arrows", "move") in Human().legend(maze) and ("W A S D", "move") in Human().legend(maze)


def test_registry_builds_humans_and_rejects_unknown_keys():
    scenario = worlds.make_scenario("tag_v0")
    assert make_controller("human:arrows", scenario).keys == "arrows"
    assert make_controller("human", scenario).keys is None
    with pytest.raises(ValueError, match="wasd, arrows"):
        make_controller("human:ijkl", scenario)


# -- seats ---------------------------------------------------------------------------------------
def test_parse_seats_by_team_and_agent_with_agent_overriding_team():
    scenario = worlds.make_scenario("tag_v0")
    seats = parse_seats(scenario, ["hunters=random", "hunter_1=human", "runner_0=planner"], default="x")
    assert seats == [("random", [0]), ("human", [1]), ("planner", [2]), ("x", [3])]


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["hunter_9=random"], "no agent or team 'hunter_9'.*hunter_0, hunter_1, runner_0, runner_1"),
        (["hunter_0"], "NAME=CONTROLLER"),
        (["hunter_0=random", "hunter_0=human"], "hunter_0 is given two seats"),
        (["hunters=random", "hunters=human"], "team hunters is given two seats"),
    ],
)
def test_bad_seats_are_clear_errors(pairs, message):
    with pytest.raises(ValueError, match=message):
        parse_seats(worlds.make_scenario("tag_v0"), pairs)


def test_one_controller_instance_drives_a_team_and_two_humans_get_one_keymap_each():
    scenario = worlds.make_scenario("tag_v0")
    seating = Seating.from_specs(scenario, ["hunters=random", "runner_0=human", "runner_1=human"], seed=0)
    assert seating.seat_of(0).controller is seating.seat_of(1).controller
    assert [h.keys for h in seating.humans()] == ["wasd", "arrows"]
    with pytest.raises(ValueError, match="one keyboard"):
        Seating.from_specs(
            worlds.make_scenario("maze_v0", num_agents=3), ["agent_0=human", "agent_1=human", "agent_2=human"]
        )


def test_take_over_follows_the_keys_and_hand_back_returns_the_seat():
    config = {"style": "open", "size": 9, "num_agents": 2}
    scenario = worlds.make_scenario("maze_v0", **config)
    seating = Seating.from_specs(scenario, ["agent_0=human:arrows"], default="random", seed=0)
    match = Match("maze_v0", config, seating, seed=4)
    random_seat = seating.seat_of(1)
    human = match.take_over(1)
    assert human.keys == "wasd"  # the arrows were taken
    assert seating.label(1) == "human (WASD)" and seating.seat_of(1).controller is human
    assert random_seat.agents == []
    deltas = {NORTH: (-1, 0), SOUTH: (1, 0), EAST: (0, 1), WEST: (0, -1)}
    start, other = match.world.pos[0, 1].copy(), match.world.pos[0, 0].copy()
    legal = match.obs["agent_1"]["action_mask"]
    move = next(a for a, d in deltas.items() if legal[a] and (start + d != other).any())
    key = {NORTH: "w", SOUTH: "s", EAST: "d", WEST: "a"}[move]
    human.press(key)
    human.release(key)
    match.step()  # agent_0's human pressed nothing: it stays
    assert match.last_actions.tolist() == [NOOP, move]
    assert (match.world.pos[0, 1] - start).tolist() == list(deltas[move])
    match.hand_back(1)
    assert seating.seat_of(1) is random_seat and random_seat.agents == [1]
    assert seating.label(1) == "random"
    assert [s[1:] for s in match.log.seats] == [
        [0, "human (ARROWS)"],
        [1, "random"],
        [1, "human (WASD)"],
        [1, "random"],
    ]
    assert [s[0] for s in match.log.seats] == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="was not taken over"):
        match.hand_back(1)
    with pytest.raises(ValueError, match="already driven by a human"):
        match.take_over(0)


def test_seat_labels_name_checkpoints_briefly():
    from arena.seats import Seat

    assert Seat("/home/me/runs/tag/agents.safetensors", object()).label == "tag/agents.safetensors"
    assert Seat("lm:" + "m" * 40, object()).label == "lm:" + "m" * 40  # whole: the panel elides it
    assert Seat("human", Human("arrows")).label == "human (ARROWS)"
