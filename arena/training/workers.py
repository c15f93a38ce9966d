"""`arena train --workers N [--ray ADDRESS]`: the batch worlds spread over N rollout workers, the
learners in the run's own process.

Each round (a fragment): the learners' weights go to every worker, the workers step their slice
of the worlds T steps at once (`arena.training.rollout`), and the learners learn from the steps
in order, as the single-process loop feeds them: the same rows, world-major over the whole batch,
one Transition per step. T is the number of steps until the next update of an on-policy learner
(PPO's `rollout`), so every step is played with the weights that learn from it; for off-policy
learners (DQN, tabular Q) T is `FRAGMENT` and they act with weights up to that many steps old.
The run's own copy of the batch (`env`) is brought up to date after each fragment, so
checkpoints and `--resume` work as without workers.

Workers are processes of this machine (each a one-process `concurrent.futures` pool, so its worlds
stay in it between fragments) or, with `--ray`, Ray actors anywhere on a cluster. A Ray worker
that dies is replaced from the run's copy of its worlds and plays its fragment again.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from arena.training.loop import Outcome, Seat, TrainingLoop, closing, seat_rows
from arena.training.rollout import (
    Fragment,
    RolloutWorker,
    Step,
    Weights,
    copy_of,
    join,
    put_worlds,
    take_worlds,
    weights_of,
)
from worlds.scenario import Scenario

FRAGMENT = 16  # steps per fragment when no on-policy learner sets it
RETRIES = 3  # replacements of a lost Ray worker within one fragment


class WorkerLoop(TrainingLoop):
    """A `TrainingLoop` whose worlds are stepped by rollout workers; `play` runs one fragment."""

    def __init__(
        self,
        scenario: Scenario,
        seats: list[Seat],
        num_worlds: int,
        seed: int,
        workers: int,
        scenario_text: str,
        ray_address: str | None = None,
        threads: int = 1,
    ):
        super().__init__(scenario, seats, num_worlds, seed)  # `env`: the run's copy of the batch
        if not 1 <= workers <= num_worlds:
            raise ValueError(f"--workers must be between 1 and --worlds ({num_worlds}), got {workers}")
        self.copies = [copy_of(seat) for seat in seats]  # checked now; taken again at the start
        self.bounds = [(k * num_worlds // workers, (k + 1) * num_worlds // workers) for k in range(workers)]
        self.scenario_text, self.seed, self.threads = scenario_text, seed, threads
        self.ray_address = ray_address
        self.pool: ProcessWorkers | RayWorkers | None = None

    def start(self, k: int) -> dict:
        """Worker k's arguments, its worlds as the run's copy holds them now."""
        lo, hi = self.bounds[k]
        return {
            "scenario": self.scenario_text, "seats": self.copies, "seed": self.seed, "lo": lo,
            "worlds": take_worlds(self.env, lo, hi), "threads": self.threads,
        }  # fmt: skip

    def fragment_length(self) -> int:
        """Steps until the next update of an on-policy learner; FRAGMENT without one."""
        left = [
            seat.controller.hyper["rollout"] - getattr(seat.controller, "t", 0)
            for seat in self.seats
            if seat.learns and "rollout" in getattr(seat.controller, "hyper", {})
        ]
        return max(1, min(left)) if left else FRAGMENT

    def play(self, iterations: int, step: int = 0) -> int:
        """One fragment of at most `iterations` steps of every world; the learners learn from
        each step in order. Returns the steps taken."""
        if self.pool is None:  # started here, after a resume has restored the worlds and seats
            self.copies = [copy_of(seat) for seat in self.seats]
            starts = [self.start(k) for k in range(len(self.bounds))]
            if self.ray_address:
                self.pool = RayWorkers(self.ray_address, starts, self.start)
            else:
                self.pool = ProcessWorkers(starts)
        steps = min(iterations, self.fragment_length())
        weights = {seat.name: weights_of(seat.controller) for seat in self.seats if seat.learns}
        fragments = self.pool.fragments(weights, steps, step)
        for t in range(steps):
            self.learn_step(join([f.steps[t] for f in fragments]))
        for (lo, _), fragment in zip(self.bounds, fragments, strict=True):
            put_worlds(self.env, lo, fragment.worlds)
        return steps

    def learn_step(self, step: Step) -> None:
        """What `TrainingLoop.step` does once the worlds have stepped: every learner learns."""
        learning = [seat for seat in self.seats if seat.learns]
        rows = [seat_rows(self.scenario, self.state, self.obs, seat) for seat in learning]
        last_state, last = closing(step.state, step.obs, step.infos)
        outcome = Outcome(
            step.rewards, step.terminated, step.truncated, step.infos, step.state, last_state, last
        )
        self.stats.add(step.infos, self.seats)
        for seat, r in zip(learning, rows, strict=True):
            transition = self.transition(seat, r, step.actions, outcome)
            transition.behaviour = step.behaviour.get(seat.name)
            self.learned(seat, seat.controller.learn(transition))
        self.obs, self.state = step.obs, step.state

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None


# -- where the workers run -----------------------------------------------------------------------
_WORKER: RolloutWorker | None = None  # in a worker process: its worlds and seats


def _start_worker(start: dict) -> None:
    global _WORKER
    _WORKER = RolloutWorker(**start)


def _play_fragment(weights: dict[str, Weights], steps: int, step: int) -> Fragment:
    return _WORKER.fragment(weights, steps, step)


class ProcessWorkers:
    """Worker processes on this machine: each a `ProcessPoolExecutor` of one process, which
    keeps its `RolloutWorker` between calls. Forked from a fork server (a fresh interpreter
    that has imported the worker's modules once), never from this process and whatever threads
    torch or Ray run in it; spawned where there is no fork server."""

    def __init__(self, starts: list[dict]):
        if "forkserver" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["torch", "agents.checkpoint", "arena.training.rollout"])
        else:
            context = multiprocessing.get_context("spawn")
        self.pools = [ProcessPoolExecutor(1, mp_context=context) for _ in starts]
        try:
            for future in [pool.submit(_start_worker, s) for pool, s in zip(self.pools, starts, strict=True)]:
                future.result()
        except BaseException:
            self.close()
            raise

    def fragments(self, weights: dict[str, Weights], steps: int, step: int) -> list[Fragment]:
        futures = [pool.submit(_play_fragment, weights, steps, step) for pool in self.pools]
        return [future.result() for future in futures]

    def close(self) -> None:
        for pool in self.pools:
            pool.shutdown(cancel_futures=True)


class RayWorkers:
    """Rollout workers as Ray actors (one CPU each) on the cluster at `address`; `restart(k)`
    gives the arguments to replace worker k from the run's current worlds when it is lost."""

    def __init__(self, address: str, starts: list[dict], restart):
        from arena.cluster import connect

        self.ray = connect(address)
        self.actor_class = self.ray.remote(num_cpus=1)(RolloutWorker)
        self.actors = [self.actor_class.remote(**s) for s in starts]
        self.restart = restart

    def fragments(self, weights: dict[str, Weights], steps: int, step: int) -> list[Fragment]:
        ray = self.ray
        shared = ray.put(weights)  # one copy in the object store, read by every worker
        calls = [actor.fragment.remote(shared, steps, step) for actor in self.actors]
        out = []
        for k, call in enumerate(calls):
            for attempt in range(RETRIES + 1):
                try:
                    out.append(ray.get(call))
                    break
                except ray.exceptions.RayActorError:
                    if attempt == RETRIES:
                        raise
                    self.actors[k] = self.actor_class.remote(**self.restart(k))
                    call = self.actors[k].fragment.remote(shared, steps, step)
        return out

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
