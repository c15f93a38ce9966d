"""The forage_v0 planner: groups formed by level, food collected together, far better than random
play (the margin stated in `test_planner_beats_random`), legal actions and honest thinking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import worlds
from agents.base import Observations
from agents.planners import make_planner
from agents.planners.forage import COLLECTING, FORAGE_WORDS, form_groups
from agents.planners.grid import UNREACHED
from agents.random_agent import RandomAgent
from worlds.observe import ascii_map
from worlds.scenarios.forage_v0 import COLLECT


def first_episodes(controller_of, count: int, seed: int = 0, **config) -> dict[str, np.ndarray]:
    """The first episode of `count` batch worlds: success, return (summed over agents), length."""
    env = worlds.make_batch("forage_v0", count, seed=seed, **config)
    controller = controller_of(env.scenario)
    obs = env.reset()
    done = np.zeros(count, bool)
    out = {"success": np.zeros(count, bool), "return": np.zeros(count), "length": np.zeros(count)}
    while not done.all():
        rows = Observations.of_batch(env.scenario, env.world, obs, np.arange(env.num_agents))
        chosen = controller.act(rows)
        assert rows.action_mask[np.arange(len(rows)), chosen].all(), "illegal action"
        obs, rewards, _, _, infos = env.step(chosen.reshape(count, -1))
        out["return"] += np.where(done, 0.0, rewards.sum(1))
        if not infos["done"].any():
            continue
        ended = np.flatnonzero(infos["done"])
        first = ~done[ended]
        out["success"][ended[first]] = infos["success"][first]
        out["length"][ended[first]] = infos["episode_length"][first]
        done[ended] = True
    return out


@pytest.mark.parametrize(
    "config",
    [{}, {"num_agents": 3, "force_coop": True}, {"num_agents": 4, "num_food": 4}],
    ids=["default", "force_coop", "four"],
)
def test_planner_beats_random(config: dict) -> None:
    """The planner clears at least 90% of 32 seeded fields and earns 0.5 more return (of the
    1 on offer) than random legal play, which clears at most 30%."""
    planner = first_episodes(lambda s: make_planner(s, seed=0), 32, **config)
    random = first_episodes(lambda s: RandomAgent(0), 32, **config)
    assert planner["success"].mean() >= 0.9
    assert random["success"].mean() <= 0.3
    assert planner["return"].mean() >= random["return"].mean() + 0.5
    assert planner["return"][planner["success"]] == pytest.approx(1.0)  # a cleared field pays 1


def play_map(tmp_path: Path, picture: str, agent_levels, food_levels, steps: int):
    path = tmp_path / "map.txt"
    path.write_text(picture + "\n", encoding="utf-8")
    env = worlds.make_parallel("forage_v0", map=str(path), num_agents=len(agent_levels))
    env.reset(seed=0)
    x = env.world.extra
    x["agent_level"][0] = agent_levels
    food = np.argwhere(x["food_level"][0] > 0)
    x["food_level"][0][food[:, 0], food[:, 1]] = food_levels
    x["food_total"][0] = sum(food_levels)
    obs, *_ = env.step(dict.fromkeys(env.agents, 0))  # observe the levels set by hand
    planner = make_planner(env.scenario, seed=0)
    log = []
    for _ in range(steps):
        if not env.agents:
            break
        chosen = planner.act(Observations.of_env(env, obs, env.agents))
        log.append((chosen.tolist(), planner.thinking().extras["plan"]))
        obs, *_ = env.step(dict(zip(env.agents, chosen.tolist(), strict=True)))
    return env, log


def test_two_weak_agents_collect_a_strong_item_together(tmp_path) -> None:
    env, log = play_map(tmp_path, "0...\n..f.\n....\n...1", (1, 1), (2,), 10)
    assert env.agents == []  # collected: the episode is over
    actions, plan = log[-1]
    assert actions == [COLLECT, COLLECT] and plan == [FORAGE_WORDS[COLLECTING]] * 2


def test_a_strong_agent_takes_a_weak_item_alone_and_the_group_the_strong_one(tmp_path) -> None:
    # agent 1 (level 3) takes the level-2 item beside it; then both take the level-4 item
    env, log = play_map(tmp_path, "0.....\n......\n.f..f1\n......", (1, 3), (4, 2), 20)
    assert env.agents == []
    first = next(actions for actions, _ in log if COLLECT in actions)
    assert first[1] == COLLECT and first[0] != COLLECT


def test_form_groups_picks_the_soonest_gathered_sets() -> None:
    # two items: item 0 (level 2) near agents 0 and 1, item 1 (level 1) near agent 2
    walk = np.array([[[1, 2, 9], [8, 7, 1]]])
    target, helping = form_groups(walk, np.array([[1, 1, 1]]), np.array([[2, 1]]), np.array([[True, True]]))
    assert target.tolist() == [[0, 0, 1]] and not helping.any()
    # nobody can do item 0 in time alone; one agent with level 3 can
    target, _ = form_groups(walk, np.array([[1, 3, 1]]), np.array([[2, 1]]), np.array([[True, True]]))
    assert target.tolist()[0][1] == 0 and target.tolist()[0][2] == 1
    # an unreachable item is nobody's; the leftover helps at the nearest reachable one
    walk = np.array([[[1, 2, 3], [UNREACHED] * 3]])
    target, helping = form_groups(walk, np.array([[1, 1, 1]]), np.array([[1, 4]]), np.array([[True, True]]))
    assert target.tolist() == [[0, 0, 0]] and helping.tolist() == [[False, True, True]]


def test_thinking_matches_the_actions_and_play_is_seeded() -> None:
    def run(seed: int):
        env = worlds.make_batch("forage_v0", 6, seed=3, num_agents=3)
        obs = env.reset()
        planner = make_planner(env.scenario, seed=seed)
        played = []
        for _ in range(15):
            rows = Observations.of_batch(env.scenario, env.world, obs, np.arange(3))
            chosen = planner.act(rows)
            thought = planner.thinking()
            legal = rows.action_mask.astype(bool)
            assert np.isnan(thought.values[~legal]).all()
            np.testing.assert_array_equal(np.nanargmax(thought.values, 1), chosen)
            assert np.isnan(thought.extras["q"][~legal]).all()
            assert all(word in FORAGE_WORDS or word.startswith("give way") for word in thought.extras["plan"])
            played.append(chosen)
            obs, *_ = env.step(chosen.reshape(6, -1))
        return np.stack(played), ascii_map(env.scenario, env.world)

    assert (run(1)[0] == run(1)[0]).all()
