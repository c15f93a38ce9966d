"""The PettingZoo front end: a thin Parallel adapter over the batched engine with one world,
and the AEC form built from it by PettingZoo's own converter."""

from __future__ import annotations

import numbers

import numpy as np
from gymnasium.error import ResetNeeded
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from worlds import engine
from worlds.forms import FORMS, encode
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
        keep_removed: bool = False,
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
        self.keep_removed = bool(keep_removed)
        self.possible_agents = list(scenario.agent_names)
        self.agents: list[str] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self._num_actions = len(scenario.actions)
        # one observation space for all (sampling it is rare); an action space each, since
        # libraries seed and sample them per agent and a shared one would reseed the others
        self.observation_spaces = dict.fromkeys(self.possible_agents, observation_space(scenario, obs_type))
        self.action_spaces = {agent: action_space(scenario) for agent in self.possible_agents}
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
        self._ending = dict.fromkeys(self.agents)  # keep_removed: how each agent left, once it has
        obs = self._observe(self.agents)
        return obs, self._infos(self.agents)

    def step(self, actions: dict):
        if self.world is None:
            raise ResetNeeded("call reset() before step()")
        if self.keep_removed:
            return self._step_keeping_removed(actions)
        acting = self.agents
        index = self._index
        rewards, terminated, truncated = self._advance(actions)
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
        return obs, rew, term, trunc, self._infos(acting)

    def _advance(self, actions: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Check `actions` and step the world; rewards, terminations, truncations [1, N]."""
        chosen = np.zeros((1, self.scenario.num_agents), dtype=np.int64)
        row, index, num_actions = chosen[0], self._index, self._num_actions
        for agent, action in actions.items():
            if type(action) is not int or not 0 <= action < num_actions:  # plain ints: no checks
                action = _as_int(agent, action, self.scenario.actions)
            row[index[agent] if agent in index else self._agent_index(agent)] = action
        chosen = engine.check_actions(self.scenario, self.world, chosen, self._mask, self.illegal)
        rewards, terminated, truncated, _ = engine.step(self.scenario, self.world, chosen)
        return rewards, terminated, truncated

    def _step_keeping_removed(self, actions: dict):
        """`step` with every agent kept until the episode ends for all: one that has left the
        game observes with a noop-only mask and zero reward, and all end together."""
        acting = self.agents
        active = self.world.alive[0].copy()
        rewards, terminated, truncated = self._advance(actions)
        rew = np.where(active, rewards[0], 0.0).tolist()
        for agent, te, tr in zip(acting, terminated[0].tolist(), truncated[0].tolist(), strict=True):
            if self._ending[agent] is None and (te or tr):
                self._ending[agent] = "terminated" if te else "truncated"
        over = not self.world.alive[0].any()
        term = {a: over and self._ending[a] == "terminated" for a in acting}
        trunc = {a: over and self._ending[a] != "terminated" for a in acting}
        obs = self._observe(acting)
        infos = self._infos(acting)
        self.agents = [] if over else acting
        if self.render_mode == "human":
            self.render()
        return obs, dict(zip(acting, rew, strict=True)), term, trunc, infos

    def state(self) -> np.ndarray:
        if self.world is None:
            raise ResetNeeded("call reset() before state()")
        return global_state(self.scenario, self.world)[0]

    def render(self, *_, **__):
        """The frame of `render_mode` (extra arguments, which some libraries pass, are ignored)."""
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

    def _infos(self, agents: list[str]) -> dict:
        """Every agent's info: its action mask (for libraries that read it there, and for the
        observation forms that have no room for it), and with `keep_removed` whether it is
        still in the game."""
        mask = self._mask[0]
        if self.keep_removed:
            alive = self.world.alive[0]
            return {
                a: {"action_mask": mask[self._index[a]], "active": bool(alive[self._index[a]])}
                for a in agents
            }
        return {a: {"action_mask": mask[self._index[a]]} for a in agents}

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
        if self.obs_type in FORMS:
            formed = encode(scenario, self.obs_type, seen, extra)
            return {a: formed[i] for a, i in zip(agents, rows, strict=True)}
        if self.obs_type == "masked":
            formed = encode(scenario, "flat", seen, extra)
            return {
                a: {"observation": formed[i], "action_mask": mask[i]}
                for a, i in zip(agents, rows, strict=True)
            }
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

    def parallel_env(
        render_mode=None, obs_type="dict", illegal="noop", keep_removed=False, **config
    ) -> GridParallelEnv:
        return GridParallelEnv(scenario_cls(**config), render_mode, obs_type, illegal, keep_removed)

    def env(**kwargs):
        return parallel_to_aec(parallel_env(**kwargs))

    parallel_env.__doc__ = f"The {scenario_cls.name} scenario as a PettingZoo ParallelEnv."
    env.__doc__ = f"The {scenario_cls.name} scenario as a PettingZoo AEC env."
    return env, parallel_env
