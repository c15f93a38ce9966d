"""One member of a population: its learners, its own batch worlds, and what the driver asks of it.

A member is a training run without a folder: `arena.training.loop.TrainingLoop` over the
member's worlds, one learner per team (or a fixed controller for a team given one), all with
the member's hyper-parameters. The population driver (`arena.population.population`) calls
its methods in turn in one process, or on a Ray actor per member (`arena.population.hosts`);
arguments and results are plain data (dicts of numbers, strings and CPU tensors), so both ways
compute the same thing from the same state. Everything random is the member's own: its worlds'
generators, its learners' generators, and its own torch generator, swapped in around its work
so members sharing a process do not draw from one stream.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace

from arena.training.loop import (
    TrainingLoop,
    evaluate,
    make_seat,
    parse_scenario,
    seat_hyper,
    seat_plan,
    seat_seed,
)
from arena.training.loopstate import loop_state, restore_loop
from arena.training.run import due


@dataclass
class MemberSpec:
    """What builds a member (and, with the saved state, rebuilds it on resume)."""

    name: str
    scenario: str
    teams: dict[str, str]  # team -> algorithm or controller (seat_plan's specs)
    fixed: dict  # hyper-parameters every member shares (`--hp KEY=V`, `SEAT.KEY=V`)
    searched: dict[str, float]  # this member's searched hyper-parameters
    worlds: int
    seed: int  # world b is seeded seed + b; seat k's learner seat_seed(seed, k)
    device: str = "cpu"
    threads: int = 1


class Member:
    def __init__(self, spec: MemberSpec):
        import torch

        from agents.checkpoint import pick_device

        torch.set_num_threads(spec.threads)  # on a Ray actor this is the actor's own process
        self.spec = spec
        self.name = spec.name
        self.scenario = parse_scenario(spec.scenario)
        self.device = pick_device(spec.device)
        plan = seat_plan(self.scenario, spec.teams)
        self.seats = [
            make_seat(
                self.scenario, name, agents, kind, seat_seed(spec.seed, k), self.device, self.seat_hyper(name)
            )
            for k, (name, agents, kind) in enumerate(plan)
        ]
        self.loop = TrainingLoop(self.scenario, self.seats, spec.worlds, spec.seed)
        self.step = 0
        generator = torch.Generator()
        generator.manual_seed(spec.seed)
        self.torch_rng = generator.get_state()

    def seat_hyper(self, seat: str) -> dict:
        """A seat's hyper-parameters: the member's searched ones, then the fixed ones."""
        return dict(self.spec.searched) | seat_hyper(self.spec.fixed, seat)

    @contextmanager
    def _own(self):
        """The member's torch generator, and torch's deterministic kernels, while it works."""
        import torch

        from agents.checkpoint import deterministic

        with torch.random.fork_rng(devices=[]), deterministic():
            torch.set_rng_state(self.torch_rng)
            try:
                yield
            finally:
                self.torch_rng = torch.get_rng_state()

    # -- what the driver calls ------------------------------------------------------------------
    def train(self, until: int, log_every: int) -> list[dict]:
        """Train to env step `until` (whole iterations of the member's worlds); a log record
        every `log_every` env steps and at the end."""
        records = []
        with self._own():
            while self.step < until:
                before, self.step = self.step, self.step + self.spec.worlds
                self.loop.step()
                if due(before, self.step, log_every) or self.step >= until:
                    record = {"kind": "train", "member": self.name, "step": self.step}
                    records.append(record | self.loop.stats.summary() | self.loop.take_metrics())
        return records

    def evaluate(self, worlds: int, seed: int, explore: bool) -> dict:
        """One episode in each of `worlds` fixed worlds (`arena.training.loop.evaluate`)."""
        with self._own():
            return evaluate(self.scenario, self.seats, worlds, seed, self.device, explore)

    def weights(self) -> dict:
        """Each learning seat's learner as plain data: what another member copies, and what
        an opponent plays with."""
        return {seat.name: learner_payload(seat.controller) for seat in self.seats if seat.learns}

    def adopt(self, payload: dict, searched: dict[str, float]) -> None:
        """Exploit: take another member's learners (weights, optimizer moments and counters),
        with `searched` as this member's hyper-parameters from now on. Each learner keeps its
        own seed and generator, so the copy does not act as its source does. A rollout in
        progress is dropped: it was gathered by the weights being replaced."""
        self.spec = replace(self.spec, searched=dict(searched))
        for seat in self.seats:
            if seat.name in payload:
                old = seat.controller
                learner = rebuild(
                    payload[seat.name], self.scenario, self.device, old.seed, self.seat_hyper(seat.name)
                )
                learner.rng = old.rng
                seat.controller = learner

    def play_home(self, everyone: dict, games: int, seed: int, explore: bool) -> list[dict]:
        """Ladder evaluation: this member as the first team against every other member as the
        second (`arena.population.ladder.home_games`)."""
        from arena.population.ladder import home_games

        with self._own():
            return home_games(self.scenario, self.name, everyone, games, seed, self.device, explore)

    def state(self) -> tuple[dict, dict]:
        """The member's whole state: `arena.training.loopstate` and its step and generator."""
        tensors, data = loop_state(self.loop)
        tensors["torch_rng"] = self.torch_rng.clone()
        return tensors, data | {"step": self.step}

    def restore(self, tensors: dict, data: dict, where: str) -> None:
        restore_loop(self.loop, tensors, data, where, self.device)
        self.torch_rng = tensors["torch_rng"].clone()
        self.step = int(data["step"])


def learner_payload(learner) -> dict:
    """A learner as plain data: algorithm, seed, every hyper-parameter, and its state without
    experience buffers (weights, optimizer, counters, generator)."""
    tensors, extras = learner.state(buffers=False)
    return {
        "algo": learner.name,
        "seed": learner.seed,
        "hyper": dict(learner.config["hyper"]),
        "tensors": {k: v.detach().cpu().clone() for k, v in tensors.items()},
        "extras": extras,
    }


def rebuild(payload: dict, scenario, device, seed: int | None = None, hyper: dict | None = None):
    """A learner from `learner_payload`'s data; with `hyper`, its hyper-parameters replaced
    (the optimizer's learning rate included, which the copied optimizer state would set)."""
    from agents.checkpoint import make_learner

    given = payload["hyper"] if hyper is None else {**payload["hyper"], **hyper}
    learner = make_learner(
        payload["algo"], scenario, device, seed=payload["seed"] if seed is None else seed, **given
    )
    learner.load_state({k: v.to(device) for k, v in payload["tensors"].items()}, payload["extras"])
    for group in learner.optimizer.param_groups:
        group["lr"] = learner.hyper["lr"]
    return learner
