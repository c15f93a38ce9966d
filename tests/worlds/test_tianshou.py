"""Tianshou as a client (in the test extra): its PettingZooEnv reads PettingZoo's action-masking convention,
`obs_type="masked"` ({"observation": the flat form, "action_mask"}), and its collector plays
whole episodes of every scenario with masked random policies, every action legal."""

from __future__ import annotations

import numpy as np
import pytest

import worlds

tianshou = pytest.importorskip("tianshou", reason="Tianshou is not installed (pip install tianshou)")


@pytest.mark.parametrize("name", worlds.SCENARIOS)
def test_tianshou_collects_masked_episodes(name):
    from tianshou.algorithm.multiagent.marl import MultiAgentOffPolicyAlgorithm
    from tianshou.algorithm.random import MARLRandomDiscreteMaskedOffPolicyAlgorithm
    from tianshou.data import Collector
    from tianshou.env import DummyVectorEnv, PettingZooEnv

    def make():
        return PettingZooEnv(worlds.make_env(name, obs_type="masked", max_cycles=20))

    env = make()
    players = [MARLRandomDiscreteMaskedOffPolicyAlgorithm(env.action_space) for _ in env.agents]
    algorithm = MultiAgentOffPolicyAlgorithm(algorithms=players, env=env)
    collector = Collector(algorithm, DummyVectorEnv([make, make]))
    stats = collector.collect(n_episode=4, reset_before_collect=True)
    assert stats.n_collected_episodes >= 4
    assert np.all(stats.lens >= 1)


def test_the_masked_form_follows_pettingzoo_convention():
    env = worlds.make_parallel("keys_v0", obs_type="masked")
    obs, _ = env.reset(seed=0)
    first = obs[env.agents[0]]
    assert set(first) == {"observation", "action_mask"}
    assert first["observation"].dtype == np.float32 and first["action_mask"].dtype == np.int8
    assert env.observation_space(env.agents[0]).contains(first)
