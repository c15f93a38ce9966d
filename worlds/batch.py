"""Batch mode: B worlds of one scenario stepped together, for training.

World b is seeded with `seed + b`, so it replays exactly what a single PettingZoo env does after
`reset(seed=seed + b)`. A world whose agents have all left the game starts its next episode
inside the same `step` (auto-reset): the observation returned for it is the new episode's
first, and `infos` carries what ended.
"""

from __future__ import annotations

import numpy as np

from worlds import engine
from worlds.forms import FORMS, encode
from worlds.observe import text_views, views
from worlds.scenario import Scenario
from worlds.spaces import action_space, observation_space


class BatchEnv:
    def __init__(
        self,
        scenario: Scenario,
        num_worlds: int,
        seed: int | None = None,
        obs_type: str = "dict",
        illegal: str = "noop",
    ):
        if num_worlds < 1:
            raise ValueError(f"num_worlds must be >= 1, got {num_worlds}")
        self.scenario = scenario
        self.num_worlds = num_worlds
        self.num_agents = scenario.num_agents
        self.possible_agents = list(scenario.agent_names)
        self.obs_type = obs_type
        self.illegal = illegal
        self.single_observation_space = observation_space(scenario, obs_type)
        self.single_action_space = action_space(scenario)
        self._seed = seed
        self.world = None

    def reset(self, seed: int | None = None):
        """Start a new episode in every world; returns observations [B, N, ...]."""
        seed = self._seed if seed is None else seed
        if seed is None:
            self._rngs = [np.random.default_rng() for _ in range(self.num_worlds)]
        else:
            self._rngs = [np.random.default_rng(seed + b) for b in range(self.num_worlds)]
        self.world = engine.reset(self.scenario, self._rngs)
        self._returns = np.zeros((self.num_worlds, self.num_agents), np.float32)
        self._ended = np.zeros((self.num_worlds, self.num_agents), bool)
        return self._observe()

    def step(self, actions):
        """Step all worlds with int actions [B, N] (ignored for agents out of the game).

        Returns obs, rewards float32[B, N], terminations and truncations bool[B, N] (true on the
        step an agent leaves the game), and infos: `active` bool[B, N] (who acted this step),
        `done` bool[B] (worlds whose episode ended and were reset), and for those worlds
        `episode_return` float32[D, N], `episode_length` int[D], `success` bool[D] and
        `final_obs` (their last observations, before the reset) and `final_state` (their
        worlds before the reset, a `State` of D worlds), D = done.sum(). `action_mask`
        int8[B, N, A] is the mask of the returned observations, in every obs_type (`mask()`
        gives it after `reset`).
        """
        world = self.world
        active = world.alive.copy()
        actions = engine.check_actions(self.scenario, world, actions, self._mask, self.illegal)
        rewards, terminated, truncated, events = engine.step(self.scenario, world, actions)
        self._returns += rewards
        self._ended |= terminated
        obs = self._observe()
        done = ~world.alive.T.copy().any(0)  # agent-major: numpy reduces a short last axis slowly
        infos = {"active": active, "done": done, "events": events}
        if done.any():
            idx = np.flatnonzero(done)
            infos["episode_return"] = self._returns[idx].copy()
            infos["episode_length"] = world.t[idx].copy()
            infos["success"] = self.scenario.success(self._ended[idx])
            infos["final_obs"] = _take(obs, idx)
            infos["final_state"] = world.world(idx)
            fresh = engine.reset(self.scenario, [self._rngs[b] for b in idx])
            world.put(idx, fresh)
            self._returns[idx] = 0
            self._ended[idx] = False
            _put(obs, idx, self._observe(fresh, idx))
        infos["action_mask"] = self._mask  # of the observations returned (new episodes' first)
        return obs, rewards, terminated, truncated, infos

    def mask(self) -> np.ndarray:
        """The legal actions of the latest observations, int8[B, N, A]."""
        return self._mask

    def _observe(self, world=None, idx=None):
        """Observations of `world` (default: all worlds); `idx` says which rows of the batch
        it holds, so the stored action mask stays whole."""
        world = self.world if world is None else world
        mask = engine.action_mask(self.scenario, world)
        if idx is None:
            self._mask = mask
        else:
            self._mask[idx] = mask
        seen = views(self.scenario, world)
        if self.obs_type == "view":
            return seen
        if self.obs_type in FORMS:
            return encode(self.scenario, self.obs_type, seen, self.scenario.extra_observations(world))
        if self.obs_type == "masked":
            extra = self.scenario.extra_observations(world)
            return {"observation": encode(self.scenario, "flat", seen, extra), "action_mask": mask}
        if self.obs_type == "text":
            B, N = world.num_worlds, self.num_agents
            rows = (np.repeat(np.arange(B), N), np.tile(np.arange(N), B))
            flat = text_views(
                self.scenario, world, seen.reshape(B * N, *seen.shape[2:]), *rows, mask.reshape(B * N, -1)
            )
            texts = [flat[b * N : (b + 1) * N] for b in range(B)]
            return {"text": texts, "action_mask": mask, **self.scenario.extra_observations(world)}
        return {"view": seen, "action_mask": mask, **self.scenario.extra_observations(world)}


def _take(obs, idx: np.ndarray):
    if isinstance(obs, np.ndarray):
        return obs[idx]
    return {
        key: (value[idx] if isinstance(value, np.ndarray) else [value[b] for b in idx])
        for key, value in obs.items()
    }


def _put(obs, idx: np.ndarray, fresh) -> None:
    if isinstance(obs, np.ndarray):
        obs[idx] = fresh
        return
    for key, value in obs.items():
        if isinstance(value, np.ndarray):
            value[idx] = fresh[key]
        else:
            for k, b in enumerate(idx):
                value[b] = fresh[key][k]
