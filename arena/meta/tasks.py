"""A family's tasks for meta-learning, and one learner's practice on one task.

`family_stream(family, split, seed, config)` is `worlds.tasks(family, split, seed)` with
`config` overriding every task's config (`max_cycles=40`), each task kept beside the curriculum
form the training loops take (`FamilyTask`). `Practice` holds how a family's learner is built,
trained for some env steps on one task (its first team; the other teams are the `opponent`)
and scored there (success rate, one episode in each of `eval_worlds` worlds seeded
`eval_seed + b`). `weights`/`set_weights` read and write the net that Reptile moves, and
`fresh_optimizer` forgets the optimizer's moments, so every inner loop and every fine-tuning
starts alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from arena.training.curriculum import LEARNER, Task, task_seats
from arena.training.loop import TrainingLoop, evaluate, make_seat
from worlds.tasks import Task as SourceTask
from worlds.tasks import tasks as task_generator

META_ALGOS = ("ppo", "a2c", "reinforce")  # the learners whose net Reptile moves
# The learner's own defaults but for shorter rollouts: a Reptile round is then a few thousand
# env steps (4 updates of 16 steps of 8 worlds, on each of 2 tasks), not tens of thousands.
LEARNER_DEFAULTS = {"rollout": 16}
PROBE = 16  # tasks of each split looked at for the family's action count


@dataclass(frozen=True)
class FamilyTask(Task):
    """A curriculum task (label, scenario) with the `worlds.tasks.Task` it was drawn as."""

    source: SourceTask = field(default=None, compare=False)

    @property
    def split(self) -> str:
        return self.source.split


def family_stream(family: str, split: str, seed: int = 0, config: dict | None = None) -> Iterator[FamilyTask]:
    """The endless stream of `family`'s tasks of `split`, `config` overriding each task's config."""
    for source in task_generator(family, split, seed):
        if config:
            source = dataclasses.replace(source, config={**source.config, **config})
        yield FamilyTask(source.label, source.make_scenario(), source)


def held_out_tasks(family: str, count: int, seed: int = 0, config: dict | None = None) -> list[FamilyTask]:
    """The first `count` held-out tasks of the family: the only ones the evaluation plays."""
    drawn = list(islice(family_stream(family, "test", seed, config), count))
    if any(t.split != "test" for t in drawn):  # the protocol's promise, kept where it is made
        raise RuntimeError("the task stream gave a train task for the test split")
    return drawn


def family_actions(family: str, config: dict | None = None) -> int:
    """The largest action count among the family's tasks (both splits): the learner's."""
    firsts = {}  # one task of each scenario the family draws: building scenarios costs
    for split in ("train", "test"):
        for t in islice(task_generator(family, split, 0), PROBE):
            firsts.setdefault(t.scenario, t)
    return max(len(t.make_scenario(**(config or {})).actions) for t in firsts.values())


@dataclass
class Practice:
    """How a family's learner is built, trained on one task and scored there."""

    family: str
    algo: str = "ppo"
    hyper: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)  # overrides of every task's config
    worlds: int = 8
    seed: int = 0
    device: str = "auto"
    opponent: str = "random"
    eval_worlds: int = 32
    eval_seed: int = 1_000_000
    greedy: bool = False
    num_actions: int = 0  # 0: the family's own count (family_actions)

    def __post_init__(self) -> None:
        if self.algo not in META_ALGOS:
            raise ValueError(f"--algo must be one of {', '.join(META_ALGOS)}, got {self.algo!r}")
        if self.hyper.get("centralized_critic"):
            raise ValueError("--hp centralized_critic: meta-learning moves the policy net only; leave it off")
        self.hyper = LEARNER_DEFAULTS | self.hyper
        self.num_actions = self.num_actions or family_actions(self.family, self.config)

    def stream(self, split: str, seed: int | None = None) -> Iterator[FamilyTask]:
        return family_stream(self.family, split, self.seed if seed is None else seed, self.config)

    def new_learner(self, task: FamilyTask, seed: int):
        seat = make_seat(
            task.scenario, LEARNER, task.protagonists, self.algo, seed, self.device, self.hyper,
            num_actions=self.num_actions,
        )  # fmt: skip
        return seat.controller

    def loop(self, learner, task: FamilyTask, seed: int, worlds: int | None = None) -> TrainingLoop:
        seats = task_seats(task, learner, self.algo, self.num_actions, self.opponent, seed, self.device)
        return TrainingLoop(task.scenario, seats, worlds or self.worlds, seed)

    def train(self, learner, task: FamilyTask, steps: int, seed: int) -> dict:
        """`steps` env steps (whole iterations of `worlds` worlds) on `task`; the partial rollout
        is learned from at the end. Returns the training episodes' summary (success, ...)."""
        loop = self.loop(learner, task, seed)
        for _ in range(-(-steps // self.worlds)):
            loop.step()
        learner.end_task(task.label)
        return loop.stats.summary()

    def success(self, learner, task: FamilyTask) -> float:
        seats = task_seats(task, learner, self.algo, self.num_actions, self.opponent, self.seed, self.device)
        row = evaluate(task.scenario, seats, self.eval_worlds, self.eval_seed, self.device, not self.greedy)
        return row["success"]


def weights(learner) -> dict:
    """A copy of the learner's net weights."""
    return {k: v.detach().clone() for k, v in learner.net.state_dict().items()}


def set_weights(learner, state: dict) -> None:
    learner.net.load_state_dict(state)


def fresh_optimizer(learner, seed: int | None = None) -> None:
    """Forget the optimizer's moments and, with `seed`, restart the learner's generator."""
    learner.optimizer.state.clear()
    if seed is not None:
        learner.rng = np.random.default_rng(seed)
