"""RLlib as a client: PPO trains a few iterations on tag_v0 through RLlib's PettingZoo wrapper
(`ParallelPettingZooEnv`), hunters and runners as two policies. The recipe of docs/scale.md.

Not in the default run (RLlib's dependencies are not in the test extra, and an iteration takes
a while): `python -m pytest -m rllib`, after `pip install pandas "pyarrow>=17" dm_tree lz4
"ormsgpack>=1.7" scipy "tensorboardX>=1.9"` beside the ray extra (docs/scale.md)."""

from __future__ import annotations

import math

import pytest

import worlds
from arena.cluster import LOCAL

pytestmark = pytest.mark.rllib


def tag_env(env_config):
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    class GridArenaEnv(ParallelPettingZooEnv):
        """RLlib's wrapper ends an episode only when every agent is terminated, or every agent
        truncated; in tag the last runner caught is terminated and the hunters truncated on that
        step. This marks the end whenever the env has no agents left."""

        def step(self, action_dict):
            obs, rewards, terminated, truncated, infos = super().step(action_dict)
            if not self.par_env.agents and not (terminated["__all__"] or truncated["__all__"]):
                truncated["__all__"] = True
            return obs, rewards, terminated, truncated, infos

    return GridArenaEnv(worlds.make_parallel("tag_v0", obs_type="flat", size=7, max_cycles=30))


def team_of(agent_id, episode=None, **kwargs):
    return "hunters" if agent_id.startswith("hunter") else "runners"


def test_rllib_ppo_trains_hunters_and_runners_on_tag():
    # imported here, so that the default run (which leaves this test out) never loads RLlib
    pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[ray]")')
    pytest.importorskip("ray.rllib", reason="RLlib's dependencies are not installed (see docs/scale.md)")
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.tune.registry import register_env

    from arena.cluster import connect

    ray = connect(LOCAL, num_cpus=2)
    register_env("grid_arena_tag", tag_env)
    config = (
        PPOConfig()
        .environment("grid_arena_tag")
        .multi_agent(policies={"hunters", "runners"}, policy_mapping_fn=team_of)
        .env_runners(num_env_runners=0)  # sample in this process; N > 0 spreads it over the cluster
        .training(train_batch_size_per_learner=200, minibatch_size=100, num_epochs=2, lr=3e-4)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        results = [algo.train() for _ in range(3)]
    finally:
        algo.stop()
        ray.shutdown()
    last = results[-1]
    assert last["env_runners"]["num_env_steps_sampled_lifetime"] == 600
    assert sum(r["env_runners"]["num_episodes"] for r in results) > 0  # episodes ended, none stuck
    for team in ("hunters", "runners"):
        assert math.isfinite(last["learners"][team]["policy_loss"]), team
