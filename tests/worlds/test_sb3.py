"""Stable-Baselines3 and sb3-contrib run on the worlds: SB3's env checker on the Gymnasium env,
PPO on it, and MaskablePPO on every agent of a batch through `worlds.sb3` (smoke runs)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import worlds

pytest.importorskip("stable_baselines3")
sb3_contrib = pytest.importorskip("sb3_contrib")

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402

from worlds.sb3 import make_sb3  # noqa: E402


def test_sb3_checks_and_trains_the_gym_env() -> None:
    env = worlds.make_gym("maze_v0", obs_type="flat")
    check_env(env)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(64)
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(int(action))


def test_maskable_ppo_on_every_agent_of_a_batch() -> None:
    venv = make_sb3("tag_v0", 2, seed=0, obs_type="flat", max_cycles=20)
    seen = []
    original = venv.step_async

    def record(actions):  # every action MaskablePPO picks must be legal under the mask it got
        seen.append(bool(venv.action_masks()[np.arange(len(actions)), actions].all()))
        original(actions)

    venv.step_async = record
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = sb3_contrib.MaskablePPO(
            "MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu"
        )
        model.learn(256)
    assert len(seen) >= 32 and all(seen)
