"""Joint training, the multi-task baseline: several tasks' worlds step together and one learner
acts on and learns from all their rows at once (`arena train --curriculum ... --continual joint`,
and the multi-task learner of `arena meta train`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.base import Observations, Transition
from arena.training.loop import TrainingLoop


def mean_of(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if r[key] == r[key]]  # skip nan: no episode finished yet
    return float(np.mean(values)) if values else float("nan")


def joint_step(loops: list[TrainingLoop], learner) -> None:
    """One step of every loop, the learner acting once on all its rows (same rows every call)."""
    seats = [loop.seats[0] for loop in loops]  # the learner's seat comes first in each task
    rows = [loop.rows() for loop in loops]
    joint = JointObservations.of([r[0] for r in rows])
    chosen = np.asarray(learner.act(joint))
    parts = np.split(chosen, np.cumsum([len(r[0]) for r in rows])[:-1])
    transitions = []
    for loop, seat, r, mine in zip(loops, seats, rows, parts, strict=True):
        actions = loop.act(r, skip=seat)
        actions[:, seat.agents] = mine.reshape(loop.env.num_worlds, len(seat.agents))
        outcome = loop.advance(actions)
        transitions.append(loop.transition(seat, r[0], actions, outcome))
    tr = Transition(
        obs=joint,
        action=np.concatenate([t.action for t in transitions]),
        reward=np.concatenate([t.reward for t in transitions]),
        terminated=np.concatenate([t.terminated for t in transitions]),
        truncated=np.concatenate([t.truncated for t in transitions]),
        next_obs=JointObservations.of([t.next_obs for t in transitions]),
        active=np.concatenate([t.active for t in transitions]),
    )
    loops[0].learned(seats[0], learner.learn(tr))


@dataclass
class JointObservations(Observations):
    """Rows of several scenarios side by side (joint training). `scenario`, `state` and
    `world` refer to the first part; views and masks are concatenated (masks padded to one
    width), and `global_view` works only where every part's map has the same size."""

    parts: tuple[Observations, ...] = ()

    def last_moves(self) -> np.ndarray:
        return np.concatenate([p.last_moves() for p in self.parts])

    def seats(self) -> list[tuple[int, ...]]:
        """Keys that start with the part's index: world 0 of one task is not world 0 of another."""
        return [(k, *seat) for k, part in enumerate(self.parts) for seat in part.seats()]

    def steps(self) -> np.ndarray:
        return np.concatenate([p.steps() for p in self.parts])

    @classmethod
    def of(cls, parts: list[Observations]) -> JointObservations:
        width = max(p.action_mask.shape[1] for p in parts)
        masks = [np.pad(p.action_mask, ((0, 0), (0, width - p.action_mask.shape[1]))) for p in parts]
        return cls(
            scenario=parts[0].scenario,
            state=parts[0].state,
            view=np.concatenate([p.view for p in parts]),
            action_mask=np.concatenate(masks),
            world=np.concatenate([p.world for p in parts]),
            agent=np.concatenate([p.agent for p in parts]),
            parts=tuple(parts),
        )

    def texts(self) -> list[str]:
        return [text for part in self.parts for text in part.texts()]

    def global_view(self) -> np.ndarray:
        views = [part.global_view() for part in self.parts]
        if len({v.shape[1:] for v in views}) > 1:
            raise ValueError(
                "joint training: the tasks' maps differ in size, so there is no single global view "
                "for a centralized critic; train without one"
            )
        return np.concatenate(views)
