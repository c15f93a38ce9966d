"""The one protocol every controller of a seat follows: scripted bots, humans, learners and
language models plug into the same seat.

A controller acts on `Observations`: a batch of rows, one per (world, agent) it drives this
step. Each row carries the egocentric view and the action mask, plus where it comes from
(`world`, `agent`) and the global `state`, so scripted planners and centralized critics can read
the whole map while plain policies read only the view. The text view is built on request
(`Observations.texts()`), since only language models pay for it.

Learners also take `Transition`s (one per step, same rows each time) and save/load themselves
as checkpoints that carry their own configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from worlds.observe import text_views
from worlds.scenario import Scenario
from worlds.state import State


@dataclass
class Observations:
    """What a controller sees this step; every array has one row per (world, agent) pair."""

    scenario: Scenario
    state: State  # the batched world state the rows index into (read it, never write it)
    view: np.ndarray  # uint8[n, V, V, C]
    action_mask: np.ndarray  # int8[n, A]
    world: np.ndarray  # int[n]: row -> world index in `state`
    agent: np.ndarray  # int[n]: row -> agent index in the scenario
    history: list[list[str]] | None = None  # per row, recent events in words (LM prompts)

    def __len__(self) -> int:
        return len(self.agent)

    def texts(self) -> list[str]:
        """The text view of every row (what the agent sees, where, its goal, in plain words)."""
        return text_views(self.scenario, self.state, self.view, self.world, self.agent, self.action_mask)

    def last_moves(self) -> np.ndarray:
        """Each row's last move (`State.last_move`: 1..4, 0 for none yet), int8[n]."""
        return self.state.last_move[self.world, self.agent]

    def seats(self) -> list[tuple[int, ...]]:
        """A key per row naming its agent in its world, for memories kept across steps."""
        return list(zip(self.world.tolist(), self.agent.tolist(), strict=True))

    def steps(self) -> np.ndarray:
        """Each row's step in its episode (0 right after a reset), int[n]."""
        return self.state.t[self.world]

    def global_view(self) -> np.ndarray:
        """The global state of each row's world, for centralized critics, uint8[n, H, W, C]."""
        from worlds.observe import global_state

        return global_state(self.scenario, self.state)[self.world]

    @classmethod
    def of_batch(cls, scenario: Scenario, state: State, obs: dict, agents) -> Observations:
        """Rows for `agents` (agent indices) in every world of a batch, world-major: row
        k = b * len(agents) + j is agent `agents[j]` in world b."""
        agents = np.asarray(agents, dtype=np.int64)
        worlds = state.num_worlds
        return cls(
            scenario=scenario,
            state=state,
            view=obs["view"][:, agents].reshape(worlds * len(agents), *obs["view"].shape[2:]),
            action_mask=obs["action_mask"][:, agents].reshape(worlds * len(agents), -1),
            world=np.repeat(np.arange(worlds), len(agents)),
            agent=np.tile(agents, worlds),
        )

    @classmethod
    def of_env(cls, env, obs: dict, agent_names: list[str]) -> Observations:
        """Rows for some live agents of a PettingZoo `GridParallelEnv` (one world)."""
        index = [env.possible_agents.index(a) for a in agent_names]
        return cls(
            scenario=env.scenario,
            state=env.world,
            view=np.stack([obs[a]["view"] for a in agent_names]),
            action_mask=np.stack([obs[a]["action_mask"] for a in agent_names]),
            world=np.zeros(len(index), dtype=np.int64),
            agent=np.array(index, dtype=np.int64),
        )


@dataclass
class Thinking:
    """What a controller thought on its last `act`, for the viewer's overlay and replays:
    `values[n, A]` are action probabilities (kind "probs") or action values (kind "q"); illegal
    actions hold nan."""

    kind: str  # "probs" | "q"
    values: np.ndarray  # float32[n, A]
    extras: dict = field(default_factory=dict)


@dataclass
class Transition:
    """One step of experience for a learner's rows (the same rows, in the same order, every
    step). `active[k]` says row k acted this step; rows out of the game carry no experience."""

    obs: Observations
    action: np.ndarray  # int[n]
    reward: np.ndarray  # float32[n]
    terminated: np.ndarray  # bool[n]: the agent's episode ended by the rules (no bootstrap)
    truncated: np.ndarray  # bool[n]: cut off by time or world reset (bootstrap from next_obs)
    next_obs: Observations  # for terminated/truncated rows: the last observation before reset
    active: np.ndarray  # bool[n]
    # what a copy of this learner computed when it acted on `obs` elsewhere (a rollout worker:
    # its `behaviour()`), so the learner need not run those rows through its network again
    behaviour: dict[str, np.ndarray] | None = None


@runtime_checkable
class Controller(Protocol):
    """Anything that can fill a seat."""

    name: str

    def act(self, obs: Observations) -> np.ndarray:
        """One legal action per row, int64[n]."""
        ...


def thinking_of(controller) -> Thinking | None:
    """The controller's last thoughts when it exposes them (method `thinking()`), else None."""
    think = getattr(controller, "thinking", None)
    return think() if callable(think) else None


def masked_probs(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Softmax over legal actions only; illegal actions get probability 0, float32[n, A]."""
    legal = mask.astype(bool)
    z = np.where(legal, logits, -np.inf)
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)
