"""Batch mode replays B single PettingZoo envs exactly, auto-resets included."""

from __future__ import annotations

import numpy as np
import pytest

import worlds

B, SEED, STEPS = 3, 11, 40
# Small worlds and short episodes, so that every world ends (and auto-resets) a few times.
CONFIG = {
    "maze_v0": {"size": 5, "max_cycles": 12},
    "plates_v0": {"size": 5, "max_cycles": 9},
    "tag_v0": {"size": 7, "max_cycles": 10},
    "forage_v0": {"size": 6, "num_food": 1, "max_level": 2, "max_cycles": 12},
    "flags_v0": {"size": 5, "max_cycles": 10},
    "harvest_v0": {"size": 7, "patches": 1, "max_cycles": 10, "num_agents": 3},
    "keys_v0": {"size": 5, "max_cycles": 12},
    "signal_v0": {"size": 5, "max_cycles": 10, "noise": 0.3, "num_agents": 3},
}


def success(name: str, ended: dict[str, bool]) -> bool:
    """Whether an episode counts as a success, from which agents terminated in it."""
    if name == "tag_v0":
        return all(ended[a] for a in ended if a.startswith("runner"))
    if name == "harvest_v0":  # the commons survived: nobody terminated
        return not any(ended.values())
    return all(ended.values())


def one_obs(obs, b: int, i: int, obs_type: str):
    """Agent i of world b out of batched observations, shaped like a single env's."""
    if obs_type == "view":
        return obs[b, i]
    if obs_type == "text":
        return {key: value[b][i] if key == "text" else value[b, i] for key, value in obs.items()}
    return {key: value[b, i] for key, value in obs.items()}  # view, mask and the scenario's own


def assert_same_obs(batched, b: int, single: dict, names: list[str], obs_type: str) -> None:
    for i, agent in enumerate(names):
        if agent not in single:
            continue
        got, want = one_obs(batched, b, i, obs_type), single[agent]
        if obs_type == "view":
            np.testing.assert_array_equal(got, want, err_msg=f"world {b} {agent}")
            continue
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"world {b} {agent} {key}")


def check_shapes(batch, obs, rewards, terminated, truncated, infos, obs_type: str) -> None:
    scenario = batch.scenario
    n, v, a = scenario.num_agents, scenario.view_size, len(scenario.actions)
    c = len(scenario.view_codes)
    if obs_type == "view":
        assert obs.shape == (B, n, v, v, c) and obs.dtype == np.uint8
    else:
        assert obs["action_mask"].shape == (B, n, a) and obs["action_mask"].dtype == np.int8
    if obs_type == "dict":
        assert obs["view"].shape == (B, n, v, v, c) and obs["view"].dtype == np.uint8
    if obs_type == "text":
        assert len(obs["text"]) == B and all(len(row) == n for row in obs["text"])
    assert rewards.shape == (B, n) and rewards.dtype == np.float32
    assert terminated.shape == truncated.shape == (B, n)
    assert terminated.dtype == truncated.dtype == bool
    assert infos["done"].shape == (B,) and infos["done"].dtype == bool
    assert infos["active"].shape == (B, n) and infos["active"].dtype == bool
    for b in range(B):
        for i in range(n):
            assert batch.single_observation_space.contains(one_obs(obs, b, i, obs_type))
    d = int(infos["done"].sum())
    if d:
        assert infos["episode_return"].shape == (d, n) and infos["episode_return"].dtype == np.float32
        assert infos["episode_length"].shape == (d,) and infos["success"].shape == (d,)
        assert infos["success"].dtype == bool


CASES = [(name, "dict") for name in sorted(worlds.SCENARIOS)]
CASES += [("tag_v0", "text"), ("maze_v0", "view"), ("forage_v0", "text"), ("forage_v0", "view")]
CASES += [("signal_v0", "text"), ("signal_v0", "view")]


@pytest.mark.parametrize(("name", "obs_type"), CASES)
def test_batch_replays_single_envs(name: str, obs_type: str) -> None:
    config = CONFIG[name]
    batch = worlds.make_batch(name, num_worlds=B, seed=SEED, obs_type=obs_type, **config)
    singles = [worlds.make_parallel(name, obs_type=obs_type, **config) for _ in range(B)]
    names = singles[0].possible_agents
    obs = batch.reset()
    single_obs = [env.reset(seed=SEED + b)[0] for b, env in enumerate(singles)]
    returns = np.zeros((B, len(names)), np.float32)
    lengths = [0] * B
    ended = [dict.fromkeys(names, False) for _ in range(B)]
    rng = np.random.default_rng(0)
    resets = 0
    for _ in range(STEPS):
        for b in range(B):
            assert_same_obs(obs, b, single_obs[b], names, obs_type)
        # Any action in range, masked ones too: both fronts must turn those into noops alike.
        actions = rng.integers(0, len(batch.scenario.actions), size=(B, len(names)))
        obs, rewards, terminated, truncated, infos = batch.step(actions)
        check_shapes(batch, obs, rewards, terminated, truncated, infos, obs_type)
        done = np.flatnonzero(infos["done"])
        for b, env in enumerate(singles):
            acting = env.agents[:]
            np.testing.assert_array_equal(infos["active"][b], [a in acting for a in names])
            step_actions = {a: int(actions[b, i]) for i, a in enumerate(names) if a in acting}
            s_obs, s_rew, s_term, s_trunc, _ = env.step(step_actions)
            assert rewards[b].tolist() == pytest.approx([s_rew.get(a, 0.0) for a in names])
            assert terminated[b].tolist() == [s_term.get(a, False) for a in names]
            assert truncated[b].tolist() == [s_trunc.get(a, False) for a in names]
            returns[b] += rewards[b]
            lengths[b] += 1
            for a in acting:
                ended[b][a] |= s_term[a]
            if env.agents:
                assert b not in done
                single_obs[b] = s_obs
                continue
            assert b in done
            k = int(np.flatnonzero(done == b)[0])
            assert_same_obs(infos["final_obs"], k, s_obs, names, obs_type)
            assert infos["episode_return"][k] == pytest.approx(returns[b])
            assert infos["episode_length"][k] == lengths[b]
            assert bool(infos["success"][k]) == success(name, ended[b])
            single_obs[b], _ = env.reset()  # no seed: it goes on with its own Generator
            returns[b], lengths[b], ended[b] = 0, 0, dict.fromkeys(names, False)
            resets += 1
    assert resets >= B, "every world should have ended an episode at least once"


def run(batch, steps: int = 15) -> list:
    """Everything a batch returns over some steps of fixed actions."""
    trace = [batch.reset()]
    rng = np.random.default_rng(1)
    for _ in range(steps):
        actions = rng.integers(0, len(batch.scenario.actions), size=(batch.num_worlds, batch.num_agents))
        obs, rewards, terminated, truncated, infos = batch.step(actions)
        trace.append((obs, rewards, terminated, truncated, infos["done"]))
    return trace


def layouts(batch) -> list[tuple]:
    world = batch.world
    return [(world.terrain[b].tobytes(), world.pos[b].tobytes()) for b in range(batch.num_worlds)]


@pytest.mark.parametrize("name", sorted(worlds.SCENARIOS))
def test_same_seed_same_run(name: str) -> None:
    first = run(worlds.make_batch(name, num_worlds=B, seed=3, **CONFIG[name]))
    second = run(worlds.make_batch(name, num_worlds=B, seed=3, **CONFIG[name]))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_equal(a, b)


@pytest.mark.parametrize("name", sorted(worlds.SCENARIOS))
def test_different_seeds_different_layouts(name: str) -> None:
    one = worlds.make_batch(name, num_worlds=B, seed=0)
    other = worlds.make_batch(name, num_worlds=B, seed=100)
    one.reset()
    other.reset()
    assert len(set(layouts(one))) == B, "worlds of one batch are seeded apart"
    assert not set(layouts(one)) & set(layouts(other))
    other.reset(seed=0)
    assert layouts(other) == layouts(one), "reset(seed=) replays the batch"


def test_agents_out_of_the_game_may_send_any_action(tmp_path) -> None:
    """Actions of agents out of the game are ignored, even out of range."""
    path = tmp_path / "map.txt"
    path.write_text("#G01G#\n", encoding="utf-8")
    batch = worlds.make_batch("maze_v0", num_worlds=1, seed=0, map=str(path), num_agents=2)
    batch.reset()
    _, _, terminated, _, _ = batch.step(np.array([[0, 3]]))  # agent 1 reaches its goal
    assert terminated.tolist() == [[False, True]]
    _, rewards, _, _, infos = batch.step(np.array([[3, 99]]))
    assert infos["active"].tolist() == [[True, False]] and rewards.tolist() == [[0.0, 0.0]]
    assert batch.world.pos[0, 0].tolist() == [0, 3]
