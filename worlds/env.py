"""The PettingZoo front end: a thin Parallel adapter over the batched engine with one world,
and the AEC form built from it by PettingZoo's own converter."""

from __future__ import annotations

import numbers

import numpy as np
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from worlds import engine
from worlds.observe import ascii_map, global_state, text_view, views
from worlds.scenario import Scenario
from worlds.spaces import action_space, observation_space, state_space

RENDER_MODES = ["human", "rgb_array", "ansi"]


class GridParallelEnv(ParallelEnv):
    metadata = {"render_modes": RENDER_MODES, "is_parallelizable": True, "render_fps": 6}

    def __init__(
        self,
        scenario: Scenario,
        render_mode: str | None = None,
        obs_type: str = "dict",
        illegal: str = "noop",
    ):
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be one of {RENDER_MODES} or None, got {render_mode!r}")
        if illegal not in ("noop", "raise"):
            raise ValueError(f"illegal must be 'noop' or 'raise', got {illegal!r}")
        self.metadata = {**self.metadata, "name": scenario.name}
        self.scenario = scenario
        self.render_mode = render_mode
        self.obs_type = obs_type
        self.illegal = illegal
        self.possible_agents = list(scenario.agent_names)
        self.agents: list[str] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self._num_actions = len(scenario.actions)
        obs_space, act_space = observation_space(scenario, obs_type), action_space(scenario)
        self.observation_spaces = dict.fromkeys(self.possible_agents, obs_space)
        self.action_spaces = dict.fromkeys(self.possible_agents, act_space)
        self.state_space = state_space(scenario, scenario.layout(np.random.default_rng(0)).terrain.shape)
        self._rng: np.random.Generator | None = None
        self.world = None  # the engine State, B = 1
        self._window = None

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self.world = engine.reset(self.scenario, [self._rng])
        self.agents = self.possible_agents[:]
        obs = self._observe(self.agents)
        return obs, {agent: {} for agent in self.agents}

    def step(self, actions: dict):
        acting = self.agents
        chosen = np.zeros((1, self.scenario.num_agents), dtype=np.int64)
        row, index, num_actions = chosen[0], self._index, self._num_actions
        for agent, action in actions.items():
            if type(action) is not int or not 0 <= action < num_actions:  # plain ints: no checks
                action = _as_int(agent, action, self.scenario.actions)
            row[index[agent] if agent in index else self._agent_index(agent)] = action
        chosen = engine.check_actions(self.scenario, self.world, chosen, self._mask, self.illegal)
        rewards, terminated, truncated, _ = engine.step(self.scenario, self.world, chosen)
        obs = self._observe(acting)
        rew, term, trunc = rewards[0].tolist(), terminated[0].tolist(), truncated[0].tolist()
        if len(acting) < len(rew):  # someone left the game: keep the rows of those still in it
            rows = [index[a] for a in acting]
            rew, term, trunc = [rew[i] for i in rows], [term[i] for i in rows], [trunc[i] for i in rows]
        self.agents = [a for a, te, tr in zip(acting, term, trunc, strict=True) if not (te or tr)]
        rew, term, trunc = (
            dict(zip(acting, rew, strict=True)),
            dict(zip(acting, term, strict=True)),
            dict(zip(acting, trunc, strict=True)),
        )
        if self.render_mode == "human":
            self.render()
        return obs, rew, term, trunc, {agent: {} for agent in acting}

    def state(self) -> np.ndarray:
        return global_state(self.scenario, self.world)[0]

    def render(self):
        if self.render_mode is None or self.world is None:
            return None
        if self.render_mode == "ansi":
            return ascii_map(self.scenario, self.world)
        from worlds.render import render_rgb

        frame = render_rgb(self.scenario, self.world)
        if self.render_mode == "rgb_array":
            return frame
        from worlds.window import FrameWindow  # pygame only when a window is asked for

        self._window = self._window or FrameWindow(self.metadata["name"], self.metadata["render_fps"])
        self._window.show(frame)
        return None

    def close(self):
        if self._window is not None:
            self._window.close()
            self._window = None

    def _agent_index(self, agent) -> int:
        if agent not in self._index:
            raise ValueError(f"unknown agent {agent!r}; agents: {', '.join(self.possible_agents)}")
        return self._index[agent]

    def _observe(self, agents: list[str]) -> dict:
        world, scenario = self.world, self.scenario
        self._mask = engine.action_mask(scenario, world)
        mask, seen = self._mask[0], views(scenario, world)[0]
        rows = (
            range(len(agents))
            if len(agents) == len(self.possible_agents)
            else [self._index[a] for a in agents]
        )
        if self.obs_type == "view":
            return {a: seen[i] for a, i in zip(agents, rows, strict=True)}
        extra = {key: value[0] for key, value in scenario.extra_observations(world).items()}
        if self.obs_type == "text":
            return {
                a: {
                    "text": text_view(scenario, world, seen[i], 0, i, mask[i]),
                    "action_mask": mask[i],
                    **{key: value[i] for key, value in extra.items()},
                }
                for a, i in zip(agents, rows, strict=True)
            }
        if extra:
            return {
                a: {
                    "view": seen[i],
                    "action_mask": mask[i],
                    **{key: value[i] for key, value in extra.items()},
                }
                for a, i in zip(agents, rows, strict=True)
            }
        return {a: {"view": seen[i], "action_mask": mask[i]} for a, i in zip(agents, rows, strict=True)}


def _as_int(agent: str, action, names: tuple[str, ...]) -> int:
    """An action as a plain int, or a ValueError naming the agent and the legal set."""
    if isinstance(action, np.ndarray) and action.size == 1:
        action = action.item()
    if isinstance(action, numbers.Integral) and 0 <= action < len(names):
        return int(action)
    legal = ", ".join(f"{k}={name}" for k, name in enumerate(names))
    raise ValueError(f"{agent}: action {action!r} is not one of {legal}")


def scenario_module(scenario_cls: type[Scenario]):
    """The `env` (AEC) and `parallel_env` constructors a PettingZoo env module exposes."""

    def parallel_env(render_mode=None, obs_type="dict", illegal="noop", **config) -> GridParallelEnv:
        return GridParallelEnv(scenario_cls(**config), render_mode, obs_type, illegal)

    def env(**kwargs):
        return parallel_to_aec(parallel_env(**kwargs))

    parallel_env.__doc__ = f"The {scenario_cls.name} scenario as a PettingZoo ParallelEnv."
    env.__doc__ = f"The {scenario_cls.name} scenario as a PettingZoo AEC env."
    return env, parallel_env
