"""What RL libraries need beyond PettingZoo's API: masks in infos, the flat and image forms,
fixed agent sets (`keep_removed`), one action space per agent, clear errors, and the Gymnasium
front ends (`make_gym`, `make_vector`)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env

import worlds
from worlds.forms import num_codes, num_features, one_hot

NAMES = sorted(worlds.SCENARIOS)
OBS_TYPES = ("dict", "view", "text", "flat", "image")


def masked_actions(rng: np.random.Generator, infos: dict, agents: list[str]) -> dict:
    return {a: int(rng.choice(np.flatnonzero(infos[a]["action_mask"]))) for a in agents}


@pytest.mark.parametrize("obs_type", OBS_TYPES)
def test_masks_in_infos(obs_type: str) -> None:
    env = worlds.make_parallel("tag_v0", obs_type=obs_type)
    reference = worlds.make_parallel("tag_v0")
    rng = np.random.default_rng(0)
    (_, infos), (ref_obs, _) = env.reset(seed=3), reference.reset(seed=3)
    for _ in range(20):
        for a in env.agents:
            assert np.array_equal(infos[a]["action_mask"], ref_obs[a]["action_mask"])
        actions = masked_actions(rng, infos, env.agents)
        _, _, _, _, infos = env.step(actions)
        ref_obs, *_ = reference.step(actions)
        if not env.agents:
            break


def test_aec_infos_carry_masks() -> None:
    env = worlds.make_env("maze_v0", obs_type="flat", num_agents=2)
    env.reset(seed=0)
    for agent in env.agent_iter(10):
        *_, terminated, truncated, info = env.last()
        assert info["action_mask"].dtype == np.int8 and info["action_mask"][0] == 1
        env.step(None if terminated or truncated else env.action_space(agent).sample(info["action_mask"]))


def test_batch_infos_carry_masks() -> None:
    batch = worlds.make_batch("tag_v0", 3, seed=0, obs_type="image")
    batch.reset()
    obs, *_, infos = batch.step(np.zeros((3, 4), np.int64))
    assert infos["action_mask"].shape == (3, 4, 6)
    assert obs.shape == (3, 4, *batch.single_observation_space.shape)


@pytest.mark.parametrize("name", NAMES)
def test_forms_are_one_hot_views(name: str) -> None:
    """Every cell of the flat and image forms is one-hot per channel, both encode the same view,
    and the extra features are the scaled Dict entries."""
    env_flat, env_image, env_view = (
        worlds.make_parallel(name, obs_type=t) for t in ("flat", "image", "view")
    )
    flat, image, view = (e.reset(seed=1)[0] for e in (env_flat, env_image, env_view))
    scenario = env_flat.scenario
    v, k, f = scenario.view_size, num_codes(scenario), num_features(scenario)
    for a in env_flat.agents:
        hot = flat[a][: v * v * k].reshape(v, v, k)
        assert np.array_equal(hot, one_hot(view[a], scenario.view_codes))
        assert np.array_equal(hot.sum(-1), np.full((v, v), len(scenario.view_codes)))
        assert np.array_equal(np.moveaxis(image[a][:k], 0, -1), hot)
        extra = image[a][k:]
        assert np.array_equal(extra[:, 0, 0], flat[a][v * v * k :]) and extra.shape[0] == f
        assert env_flat.observation_space(a).contains(flat[a])
        assert env_image.observation_space(a).contains(image[a])


@pytest.mark.parametrize("obs_type", ("flat", "image"))
def test_batch_forms_match_the_env(obs_type: str) -> None:
    batch = worlds.make_batch("forage_v0", 2, seed=5, obs_type=obs_type)
    env = worlds.make_parallel("forage_v0", obs_type=obs_type)
    batch_obs, env_obs = batch.reset(), env.reset(seed=6)[0]
    for i, a in enumerate(env.possible_agents):
        assert np.array_equal(batch_obs[1, i], env_obs[a])


def run(env, seed: int, steps: int = 100):
    """A seeded random episode; every step's (agents, rewards, terminations, truncations)."""
    rng = np.random.default_rng(seed)
    _, infos = env.reset(seed=seed)
    trace = []
    while env.agents and len(trace) < steps:
        acting = env.agents
        _, rew, term, trunc, infos = env.step(masked_actions(rng, infos, acting))
        trace.append((acting, rew, term, trunc, infos))
    return trace


def test_keep_removed_keeps_every_agent_to_the_end() -> None:
    for seed in range(20):  # a seed in which a runner is caught before the episode ends
        plain = run(worlds.make_parallel("tag_v0", max_cycles=60), seed)
        if len(plain[-1][0]) < 4:
            break
    assert len(plain[-1][0]) < 4, "no seed had an agent leave before the end"
    kept = run(worlds.make_parallel("tag_v0", max_cycles=60, keep_removed=True), seed)
    assert len(kept) == len(plain)
    left: set[str] = set()
    for t, ((agents, rew, term, trunc, _), (all_agents, k_rew, k_term, k_trunc, k_infos)) in enumerate(
        zip(plain, kept, strict=True)
    ):
        assert all_agents == worlds.SCENARIOS["tag_v0"].parallel_env().possible_agents
        last = t == len(kept) - 1
        for a in all_agents:
            if a in agents:
                assert k_rew[a] == rew[a]
            else:  # out of the game: an inactive observer
                assert k_rew[a] == 0.0 and not k_infos[a]["active"]
                assert k_infos[a]["action_mask"].tolist() == [1, 0, 0, 0, 0, 0]
            assert (k_term[a] or k_trunc[a]) == last
        left |= {a for a in agents if term[a] or trunc[a]}
    assert left == set(all_agents)


def test_every_agent_has_its_own_action_space() -> None:
    env = worlds.make_parallel("tag_v0")
    first, second = (env.action_space(a) for a in env.possible_agents[:2])
    assert first is not second
    second.seed(7)
    before = [second.sample() for _ in range(10)]
    second.seed(7)
    first.seed(123)  # seeding one agent's space leaves the others' streams alone
    assert [second.sample() for _ in range(10)] == before


def test_step_and_state_before_reset_say_so() -> None:
    env = worlds.make_parallel("maze_v0")
    with pytest.raises(ResetNeeded, match="reset"):
        env.step({"agent_0": 0})
    with pytest.raises(ResetNeeded, match="reset"):
        env.state()


def test_render_ignores_arguments() -> None:
    env = worlds.make_parallel("maze_v0", render_mode="ansi")
    env.reset(seed=0)
    assert env.render("rgb_array") == env.render(mode="human") == env.render()


@pytest.mark.parametrize("obs_type", ("dict", "view", "flat", "image"))
@pytest.mark.parametrize("name", ("maze_v0", "keys_v0"))
def test_gym_env_passes_gymnasium_check_env(name: str, obs_type: str) -> None:
    env = worlds.make_gym(name, obs_type=obs_type)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert env.action_masks().tolist() == info["action_mask"].astype(bool).tolist()


def test_make_gym_wants_one_agent() -> None:
    with pytest.raises(ValueError, match="one"):
        worlds.make_gym("tag_v0")


def test_vector_rows_follow_the_batch() -> None:
    vector = worlds.make_vector("tag_v0", 3, seed=0, obs_type="flat", max_cycles=20)
    batch = worlds.make_batch("tag_v0", 3, seed=0, obs_type="flat", max_cycles=20)
    obs, infos = vector.reset()
    assert vector.observation_space.contains(obs) and obs.shape[0] == vector.num_envs == 12
    assert np.array_equal(obs, batch.reset().reshape(12, -1))
    rng = np.random.default_rng(0)
    restarted = 0
    for _ in range(45):
        masks = vector.action_masks()
        assert np.array_equal(masks, infos["action_mask"].astype(bool))
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        obs, rewards, terminated, truncated, infos = vector.step(actions)
        b_obs, b_rew, b_term, b_trunc, b_infos = batch.step(actions.reshape(3, 4))
        assert np.array_equal(obs, b_obs.reshape(12, -1)) and np.array_equal(rewards, b_rew.reshape(-1))
        if "final_obs" in infos:
            restarted += 1
            rows = infos["_final_obs"].reshape(3, 4)
            assert np.array_equal(rows.any(1), b_infos["done"])
            # every row of a restarted world ends its episode on this step
            assert (terminated | truncated)[rows.reshape(-1)].all()
    assert restarted >= 2
