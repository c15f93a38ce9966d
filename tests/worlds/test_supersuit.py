"""SuperSuit as a client: its Box-only vector wrappers (`pettingzoo_env_to_vec_env_v1`, then
`concat_vec_envs_v1`) turn tag_v0, where caught runners leave the game, into a Gymnasium vector
env with one row per seat, played with masks read from the infos. `keep_removed=True` keeps
every seat in the game until the episode ends (the recommended setting); SuperSuit's own
`black_death_v3` also runs, with zero observations and no info for a departed seat."""

from __future__ import annotations

import numpy as np
import pytest

import worlds

ss = pytest.importorskip("supersuit", reason="SuperSuit is not installed (pip install supersuit)")

WORLDS, SEATS, CYCLES = 2, 4, 30
NOOP_ONLY = np.eye(1, 6, dtype=np.int8)[0]


def vectorized(parallel_env):
    return ss.concat_vec_envs_v1(
        ss.pettingzoo_env_to_vec_env_v1(parallel_env), WORLDS, num_cpus=0, base_class="gymnasium"
    )


def masked_actions(rng: np.random.Generator, infos: list[dict]) -> np.ndarray:
    """A random legal action per row; a row without a mask (a black-death seat) sends noop."""
    return np.array(
        [int(rng.choice(np.flatnonzero(i["action_mask"]))) if "action_mask" in i else 0 for i in infos]
    )


def test_keep_removed_rows_stay_with_noop_masks_until_the_world_ends() -> None:
    venv = vectorized(worlds.make_parallel("tag_v0", obs_type="flat", keep_removed=True, max_cycles=CYCLES))
    assert venv.num_envs == WORLDS * SEATS
    obs, infos = venv.reset(seed=0)
    rng = np.random.default_rng(0)
    departed = ended = 0
    left = np.zeros(WORLDS * SEATS, bool)  # rows whose seat left the game on an earlier step
    for _ in range(3 * CYCLES):
        actions = masked_actions(rng, infos)
        for row, info in enumerate(infos):
            assert info["action_mask"][actions[row]] == 1
        obs, rewards, terminated, truncated, infos = venv.step(actions)
        assert obs.shape == (WORLDS * SEATS, *venv.observation_space.shape)
        assert venv.observation_space.contains(obs[0])
        done = (terminated | truncated).astype(bool).reshape(WORLDS, SEATS)
        # a world's seats end together, and its rows restart with fresh masks at once
        assert np.all(done.all(axis=1) == done.any(axis=1))
        ended += int(done.all(axis=1).sum())
        for row, info in enumerate(infos):
            if not info["active"]:
                departed += 1
                assert np.array_equal(info["action_mask"], NOOP_ONLY)
            if left[row] and not done.flat[row]:
                assert rewards[row] == 0.0  # the catch's -1 came on the step it left
        left = np.array([not i["active"] for i in infos])
    assert departed > 0, "no runner was caught: the test saw no seat leave"
    assert ended >= 2 * WORLDS  # every world ran at least two episodes to their end


def test_black_death_rows_are_zero_with_no_mask() -> None:
    venv = vectorized(ss.black_death_v3(worlds.make_parallel("tag_v0", obs_type="flat", max_cycles=CYCLES)))
    obs, infos = venv.reset(seed=0)
    rng = np.random.default_rng(0)
    blacked = ended = 0
    for _ in range(3 * CYCLES):
        obs, rewards, terminated, truncated, infos = venv.step(masked_actions(rng, infos))
        ended += int((terminated | truncated).sum())
        for row, info in enumerate(infos):
            if "action_mask" not in info:
                blacked += 1
                assert not obs[row].any() and rewards[row] == 0.0
    assert blacked > 0 and ended > 0
