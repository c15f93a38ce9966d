"""A rollout worker of `arena train --workers N`: a slice of the run's batch worlds and a copy of
every seat, stepped with the learners' current weights.

The learners stay in the run's own process. A worker holds worlds [lo, hi) of the B worlds
(world b still seeded seed + b) and a copy of every seat's controller: a learner rebuilt on the
CPU from its configuration and given the learner's weights before every fragment, a scripted
controller (random, planner) built from its spec. A fragment is T steps of the worker's worlds;
it returns what each step gave (`Step`: actions, observations, rewards, ends, the state, and each
learner copy's `behaviour()` on its rows, so the learner does not run its network over them
again) and, at the end, its worlds whole (`Worlds`), which the run keeps for its checkpoints.

Every controller copy's generator is reseeded at each fragment from the run's seed, the seat,
the worker's first world and the env step: a run with the same number of workers plays the same
every time and resumes exactly, and a fragment played again (a worker lost and replaced) is the
same fragment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arena.training.loop import ALGOS, LM_ALGOS, Seat, act, learner_algo, parse_scenario, seat_rows
from worlds.batch import BatchEnv
from worlds.state import State

Weights = tuple[dict[str, np.ndarray], dict]  # a learner's tensors (as numpy) and its extras
DONE_KEYS = ("episode_return", "episode_length", "success")  # per finished world, in `infos`


@dataclass
class SeatCopy:
    """What a worker needs to rebuild a seat: a learner's configuration and weights, or a
    scripted controller's spec."""

    name: str
    agents: list[int]
    spec: str
    num_actions: int
    learns: bool
    learner: dict | None = None  # {"algo", "hyper", "num_actions"}
    weights: Weights | None = None  # the learner's weights when the run starts


@dataclass
class Worlds:
    """Some worlds of a batch env, whole: state, running returns and ends, generators."""

    state: State
    returns: np.ndarray
    ended: np.ndarray
    rngs: list[dict]


@dataclass
class Step:
    """One step of a worker's worlds, as `BatchEnv.step` gave it."""

    actions: np.ndarray  # int64[b, N]
    obs: dict
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    infos: dict  # active, done and, for finished worlds, DONE_KEYS, final_obs, final_state
    state: State  # after the step
    behaviour: dict[str, dict]  # seat -> its learner copy's `behaviour()` on the step's rows


@dataclass
class Fragment:
    steps: list[Step]
    worlds: Worlds  # the worker's worlds after the last step


def weights_of(controller) -> Weights:
    """A learner's weights for its copies: its state without buffers or optimizer moments."""
    tensors, extras = controller.state(buffers=False)
    kept = {k: v.detach().cpu().numpy() for k, v in tensors.items() if not k.startswith("optim.")}
    return kept, extras


def load_weights(controller, weights: Weights) -> None:
    """Gives a copy the learner's weights, keeping the copy's own generator."""
    import torch

    tensors, extras = weights
    own = controller.rng.bit_generator.state
    controller.load_state({k: torch.from_numpy(v) for k, v in tensors.items()}, extras | {"rng": own})


def copy_of(seat: Seat) -> SeatCopy:
    """The seat as a worker rebuilds it; a language-model seat is refused (each worker would
    load the model)."""
    config = getattr(seat.controller, "config", None)
    algo = config.get("algo") if isinstance(config, dict) else None
    agents = seat.agents.tolist()
    if algo in ALGOS:
        learner = {"algo": algo, "hyper": config["hyper"], "num_actions": config["num_actions"]}
        return SeatCopy(
            seat.name, agents, seat.spec, seat.num_actions, seat.learns, learner, weights_of(seat.controller)
        )
    if algo in LM_ALGOS or learner_algo(seat.spec) or seat.spec.partition(":")[0] in ("lm", "human"):
        raise ValueError(
            f"--workers: seat {seat.name} ({seat.spec}) cannot be copied to rollout workers; they take "
            f"learners ({', '.join(ALGOS)}) and scripted controllers (random, planner)"
        )
    return SeatCopy(seat.name, agents, seat.spec, seat.num_actions, seat.learns)


def take_worlds(env: BatchEnv, lo: int = 0, hi: int | None = None) -> Worlds:
    """Copies of worlds [lo, hi) of `env`. (Reads BatchEnv's private fields, as the run's
    checkpoints do.)"""
    hi = env.num_worlds if hi is None else hi
    return Worlds(
        env.world.world(np.arange(lo, hi)),
        env._returns[lo:hi].copy(),
        env._ended[lo:hi].copy(),
        env.seeds.state()[lo:hi],  # per world: layout key, episodes begun, generator
    )


def put_worlds(env: BatchEnv, lo: int, worlds: Worlds) -> None:
    """Overwrites worlds [lo, lo + n) of `env` with `worlds`."""
    idx = np.arange(lo, lo + len(worlds.rngs))
    env.world.put(idx, worlds.state)
    env._returns[idx] = worlds.returns
    env._ended[idx] = worlds.ended
    streams = env.seeds.state()
    streams[lo : lo + len(idx)] = worlds.rngs
    env.seeds.set_state(streams)


class RolloutWorker:
    """Worlds [lo, lo + n) of a run and a copy of its seats (in a process of its own, or a Ray
    actor)."""

    def __init__(
        self, scenario: str, seats: list[SeatCopy], seed: int, lo: int, worlds: Worlds, threads: int = 1
    ):
        import torch

        torch.set_num_threads(threads)
        self.scenario = parse_scenario(scenario)
        self.seed, self.lo = seed, lo
        self.env = BatchEnv(self.scenario, len(worlds.rngs), seed + lo)
        self.env.reset()
        put_worlds(self.env, 0, worlds)
        self.obs = self.env._observe()
        self.state = self.env.world.copy()
        self.seats = [self._seat(copy) for copy in seats]

    def _seat(self, copy: SeatCopy) -> Seat:
        if copy.learner is None:
            from agents.registry import make_controller

            controller = make_controller(copy.spec, self.scenario, seed=0, device="cpu")
        else:
            from agents.checkpoint import make_learner

            hyper = copy.learner["hyper"] | {"num_actions": copy.learner["num_actions"]}
            controller = make_learner(copy.learner["algo"], self.scenario, "cpu", seed=0, **hyper)
            load_weights(controller, copy.weights)
        agents = np.asarray(copy.agents, np.int64)
        return Seat(copy.name, agents, copy.spec, controller, copy.num_actions, frozen=not copy.learns)

    def fragment(self, weights: dict[str, Weights], steps: int, step: int) -> Fragment:
        """`steps` steps of every world, the learners' copies acting with `weights`; `step` is
        the run's env step, which seeds this fragment's draws."""
        for k, seat in enumerate(self.seats):
            if seat.name in weights:
                load_weights(seat.controller, weights[seat.name])
            if isinstance(getattr(seat.controller, "rng", None), np.random.Generator):
                seat.controller.rng = np.random.default_rng([self.seed, k, self.lo, step])
        return Fragment([self._step() for _ in range(steps)], take_worlds(self.env))

    def _step(self) -> Step:
        worlds = self.env.num_worlds
        actions = np.zeros((worlds, self.scenario.num_agents), np.int64)
        behaviour = {}
        for seat in self.seats:
            rows = seat_rows(self.scenario, self.state, self.obs, seat)
            actions[:, seat.agents] = np.asarray(act(seat, rows)).reshape(worlds, len(seat.agents))
            if seat.learns and callable(getattr(seat.controller, "behaviour", None)):
                behaviour[seat.name] = seat.controller.behaviour()
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        self.obs, self.state = obs, self.env.world.copy()
        keep = ("active", "done", *DONE_KEYS, "final_obs", "final_state")
        kept = {key: infos[key] for key in keep if key in infos}
        return Step(actions, obs, rewards, terminated, truncated, kept, self.state, behaviour)


def join(steps: list[Step]) -> Step:
    """The same step of every worker as one step of the whole batch (workers in world order)."""

    def cat(arrays):
        return np.concatenate(arrays)

    first = steps[0]
    infos = {"active": cat([s.infos["active"] for s in steps]), "done": cat([s.infos["done"] for s in steps])}
    ended = [s.infos for s in steps if "final_state" in s.infos]
    if ended:
        infos |= {key: cat([i[key] for i in ended]) for key in DONE_KEYS}
        infos["final_obs"] = {key: cat([i["final_obs"][key] for i in ended]) for key in ended[0]["final_obs"]}
        infos["final_state"] = State.concat([i["final_state"] for i in ended])
    behaviour = {
        seat: {key: cat([s.behaviour[seat][key] for s in steps]) for key in part}
        for seat, part in first.behaviour.items()
    }
    return Step(
        cat([s.actions for s in steps]),
        {key: cat([s.obs[key] for s in steps]) for key in first.obs},
        cat([s.rewards for s in steps]),
        cat([s.terminated for s in steps]),
        cat([s.truncated for s in steps]),
        infos,
        State.concat([s.state for s in steps]),
        behaviour,
    )
