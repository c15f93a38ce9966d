"""A Stable-Baselines3 `VecEnv` over batch mode, for SB3 and sb3-contrib's MaskablePPO.

Rows are every agent of every world, as in `worlds.vector.AgentVectorEnv`, whose episode rules
it follows (a row that left the game idles until its world restarts); `action_masks()` gives
the legal actions MaskablePPO asks for. Import it only with stable-baselines3 installed.
"""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from worlds.registry import make_vector
from worlds.vector import AgentVectorEnv


class AgentVecEnv(VecEnv):
    def __init__(self, vector: AgentVectorEnv):
        self.render_mode = None
        super().__init__(vector.num_envs, vector.single_observation_space, vector.single_action_space)
        self.vector = vector
        self._actions = None
        self._seed: int | None = None

    def reset(self):
        obs, _ = self.vector.reset(seed=self._seed)
        self._seed = None  # the next reset draws on from the seeded worlds
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, rewards, terminated, truncated, infos = self.vector.step(self._actions)
        dones = terminated | truncated
        rows = [{} for _ in range(self.num_envs)]
        for row in np.flatnonzero(dones):
            rows[row]["TimeLimit.truncated"] = bool(truncated[row] and not terminated[row])
            # the row's last observation: its world's before a restart, else its own (it idles)
            restarted = "final_obs" in infos and infos["_final_obs"][row]
            rows[row]["terminal_observation"] = infos["final_obs"][row] if restarted else _pick(obs, row)
        return obs, rewards, dones, rows

    def seed(self, seed: int | None = None):
        self._seed = seed
        return [seed]

    def action_masks(self) -> np.ndarray:
        return self.vector.action_masks()

    def close(self) -> None:
        pass

    def get_attr(self, attr_name, indices=None):
        return [getattr(self, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name, value, indices=None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name, *method_args, indices=None, **method_kwargs):
        if method_name == "action_masks":  # one row's mask per env, as sb3-contrib stacks them
            return list(self.action_masks()[self._get_indices(indices)])
        return [getattr(self, method_name)(*method_args, **method_kwargs)] * len(self._get_indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None):
        return [False] * len(self._get_indices(indices))

    def _get_indices(self, indices):
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)


def make_sb3(name: str, num_worlds: int, seed: int | None = None, **kwargs) -> AgentVecEnv:
    """`make_vector`'s rows as an SB3 VecEnv (kwargs: obs_type, illegal, scenario config)."""
    return AgentVecEnv(make_vector(name, num_worlds, seed, **kwargs))


def _pick(obs, row: int):
    if isinstance(obs, dict):
        return {key: value[row] for key, value in obs.items()}
    return obs[row]
