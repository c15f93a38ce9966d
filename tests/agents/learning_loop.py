"""A minimal training loop over batch worlds for the learner tests (the Transitions `arena train`
builds), and a greedy evaluation on fixed worlds."""

from __future__ import annotations

import numpy as np

import worlds
from agents.base import Observations, Transition
from agents.random_agent import RandomAgent
from arena.training.loop import closing


def train(
    learner, scenario, steps: int, num_worlds: int = 16, seed: int = 0, agents=None, others=None
) -> list[dict]:
    """`steps` loop iterations in `num_worlds` worlds: the learner drives `agents` (default all),
    `others` (a function of the action masks [B * N, A] and the Observations of every agent,
    giving int[B * N]; default random legal actions) the rest. Returns the metrics of every update."""
    agents = np.arange(scenario.num_agents) if agents is None else np.asarray(agents)
    env = worlds.BatchEnv(scenario, num_worlds, seed)
    others = others or _random(seed + 1)
    raw = env.reset()
    state = env.world.copy()
    cols = (slice(None), agents)
    updates = []
    for _ in range(steps):
        obs = Observations.of_batch(scenario, state, raw, agents)
        everyone = Observations.of_batch(scenario, state, raw, range(scenario.num_agents))
        actions = others(everyone.action_mask, everyone).reshape(num_worlds, scenario.num_agents)
        mine = learner.act(obs)
        actions[cols] = mine.reshape(num_worlds, len(agents))
        raw, reward, terminated, truncated, info = env.step(actions)
        state = env.world.copy()
        last_state, last = closing(state, raw, info)
        tr = Transition(
            obs,
            mine,
            reward[cols].reshape(-1),
            terminated[cols].reshape(-1),
            truncated[cols].reshape(-1),
            Observations.of_batch(scenario, last_state, last, agents),
            info["active"][cols].reshape(-1),
        )
        metrics = learner.learn(tr)
        if metrics is not None:
            updates.append(metrics)
    return updates


def _random(seed: int):
    agent = RandomAgent(seed)
    return lambda masks, obs: agent.act(masks)


def evaluate(
    controller, scenario, episodes: int = 100, seed: int = 1_000_000, agents=None, others=None
) -> float:
    """Success rate of one episode in each of `episodes` worlds seeded seed + b, the controller
    acting greedily for `agents` (default all) and `others` (as in `train`; default random legal
    actions) for the rest."""
    agents = np.arange(scenario.num_agents) if agents is None else np.asarray(agents)
    env = worlds.BatchEnv(scenario, episodes, seed)
    raw = env.reset()
    others = others or _random(seed)
    N = scenario.num_agents
    seen = np.zeros(episodes, bool)
    success = np.zeros(episodes, bool)
    while not seen.all():
        obs = Observations.of_batch(scenario, env.world, raw, agents)
        everyone = Observations.of_batch(scenario, env.world, raw, range(N))
        actions = others(everyone.action_mask, everyone).reshape(episodes, N)
        if isinstance(controller, RandomAgent):
            mine = controller.act(obs)
        else:
            mine = controller.act(obs, explore=False)
        actions[:, agents] = mine.reshape(episodes, len(agents))
        raw, _, _, _, info = env.step(actions)
        idx = np.flatnonzero(info["done"])
        if len(idx):
            new = ~seen[idx]
            success[idx[new]] = info["success"][new]
            seen[idx[new]] = True
    return float(success.mean())
