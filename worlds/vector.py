"""Gymnasium front ends for single-agent RL libraries.

`AgentVectorEnv` is a Gymnasium `VectorEnv` over batch mode in which every agent of every world
is one row (num_envs = worlds x agents), so a single-agent learner trains all seats with one
shared policy. `make_gym` is a plain Gymnasium `Env` for scenarios with one agent.

Rows and episodes: a row's agent that leaves the game (reaches its goal, is caught) reports
terminated or truncated on that step and then idles as an observer (noop-only mask, zero reward)
until its world's episode ends; that idle stretch ends with `terminated` on the step its world
restarts (SuperSuit's black_death, with the idle time cut off as its own zero-reward episode).
Worlds restart within the same `step` (Gymnasium's SAME_STEP autoreset): the observation of a
restarted row is the new episode's first, its last one is in `infos["final_obs"]`.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from worlds.batch import BatchEnv
from worlds.env import GridParallelEnv


class AgentVectorEnv(VectorEnv):
    """Every agent of every world of a `BatchEnv` as one row of a Gymnasium `VectorEnv`.

    `action_masks()` (and `infos["action_mask"]`) give the legal actions of each row, bool[n, A].
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, batch: BatchEnv):
        if batch.obs_type == "text":
            raise ValueError("AgentVectorEnv takes obs_type view, flat, image or dict, not text")
        self.batch = batch
        self.num_envs = batch.num_worlds * batch.num_agents
        self.single_observation_space = batch.single_observation_space
        self.single_action_space = batch.single_action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs = self.batch.reset(seed)
        return _rows(obs), {"action_mask": _rows(self.batch.mask())}

    def step(self, actions):
        shape = (self.batch.num_worlds, self.batch.num_agents)
        obs, rewards, terminated, truncated, info = self.batch.step(np.asarray(actions).reshape(shape))
        done = info["done"]
        idle = ~info["active"] & done[:, None]  # left earlier: their idle stretch ends here
        infos = {"action_mask": _rows(info["action_mask"]), "active": _rows(info["active"])}
        if done.any():
            ended = np.zeros(shape, bool)
            ended[done] = True
            final = np.empty(self.num_envs, dtype=object)
            last = _rows(info["final_obs"])  # rows of the done worlds, in order
            for k, row in enumerate(np.flatnonzero(ended.reshape(-1))):
                final[row] = _pick(last, k)
            infos["final_obs"], infos["_final_obs"] = final, ended.reshape(-1)
        return (
            _rows(obs),
            rewards.reshape(-1),
            (terminated | idle).reshape(-1),
            truncated.reshape(-1),
            infos,
        )

    def action_masks(self) -> np.ndarray:
        """bool[n, A]: the legal actions of every row's latest observation."""
        return _rows(self.batch.mask()).astype(bool)


def _rows(value):
    """[B, N, ...] arrays (or a dict of them) as [B * N, ...]."""
    if isinstance(value, dict):
        return {key: _rows(item) for key, item in value.items()}
    return value.reshape(-1, *value.shape[2:])


def _pick(value, k: int):
    if isinstance(value, dict):
        return {key: item[k] for key, item in value.items()}
    return value[k]


class SingleAgentEnv(gym.Env):
    """A one-agent scenario as a Gymnasium `Env` (the PettingZoo env's only agent);
    `action_masks()` and `info["action_mask"]` give its legal actions."""

    def __init__(self, env: GridParallelEnv):
        if len(env.possible_agents) != 1:
            raise ValueError(
                f"{env.scenario.name} has {len(env.possible_agents)} agents; make_gym takes one "
                "(use make_parallel, or AgentVectorEnv over make_batch, for several)"
            )
        self.env = env
        self.agent = env.possible_agents[0]
        self.observation_space = env.observation_space(self.agent)
        self.action_space = env.action_space(self.agent)
        self.metadata = env.metadata
        self.render_mode = env.render_mode
        self._mask = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, infos = self.env.reset(seed=seed, options=options)
        self._mask = infos[self.agent]["action_mask"]
        return obs[self.agent], infos[self.agent]

    def step(self, action):
        obs, rewards, terminated, truncated, infos = self.env.step({self.agent: action})
        a = self.agent
        self._mask = infos[a]["action_mask"]
        return obs[a], float(rewards[a]), bool(terminated[a]), bool(truncated[a]), infos[a]

    def action_masks(self) -> np.ndarray:
        """bool[A]: the legal actions of the latest observation."""
        return self._mask.astype(bool)

    def render(self):
        return self.env.render()

    def close(self):
        self.env.close()
