"""How an LM seat uses its knowledge base (`agents.lm.knowledge`): it recalls, then remembers.

Recall, every decision, from the k steps of past successful episodes nearest to each row's
situation (cosine distance within `radius`):

* as a prior on the action (kNN-LM, Khandelwal et al. 2020, with actions for tokens): the
  neighbours vote for the actions they took, each weighted exp(-distance / 0.05), and the
  policy becomes (1 - weight) * p_LM + weight * p_memory over the legal actions. It works with
  any model, the tiny default included, since it does not ask the model to read anything;
* as prompt lines (`lines` > 0) for models that read: the nearest steps as `Memory: here north
  worked (success in 12 steps).` and the nearest lessons as `Lesson: ...`. The shipped tiny
  models were never trained on such lines, so they are off unless asked for.

Remember: each (world, agent) keeps a journal of its decisions this episode (vector, text view,
action, cell). When the episode ends (`episode_over`), a success adds the steps of its way with
the loops erased (`loop_erased`: what remains is what led to the end) to the store, and every
episode, won or lost, adds one lesson (`knowledge.lesson_text`, or the seat's own writer), so the
store keeps what worked and a line on what did not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agents.lm.embed import NAME, text_vectors
from agents.lm.knowledge import Entry, KnowledgeBase, lesson_text
from worlds.scenario import Scenario

TEMPERATURE = 0.05  # of the neighbours' vote, in cosine distance


@dataclass
class Recall:
    """A seat's use of a store; see the module docstring."""

    store: KnowledgeBase
    scenario: Scenario
    k: int = 8
    weight: float = 0.5
    radius: float = 0.3
    lines: int = 0
    writer: Callable[..., str] | None = None  # (scenario, success, steps, outcome, max_cycles) -> lesson
    journal: dict[tuple[int, int], list] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"memory weight must be in 0..1, got {self.weight}")
        if self.k < 1 or self.lines < 0 or self.radius <= 0:
            got = f"k={self.k}, lines={self.lines}, radius={self.radius}"
            raise ValueError(f"memory k must be >= 1, lines >= 0 and radius > 0, got {got}")

    @classmethod
    def open(cls, path, scenario: Scenario, **options) -> Recall:
        return cls(KnowledgeBase.shared(path, NAME, text_vectors([""]).shape[1]), scenario, **options)

    def vectors(self, texts: list[str]) -> np.ndarray:
        return text_vectors(texts, self.store.dim)

    def prior(self, vectors: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(p_memory float32[n, A] over legal actions, whether row n had a neighbour bool[n])."""
        n, actions = len(vectors), list(self.scenario.actions)
        votes = np.zeros((n, len(actions)), np.float64)
        for row, hits in enumerate(self.store.search(vectors, self.k, kind="step")):
            for key, dist in hits:
                entry = self.store.entries[key]
                if dist <= self.radius and entry.action in actions:
                    votes[row, actions.index(entry.action)] += np.exp(-dist / TEMPERATURE)
        votes *= mask.astype(bool)
        total = votes.sum(1, keepdims=True)
        has = total[:, 0] > 0
        return (votes / np.where(has[:, None], total, 1.0)).astype(np.float32), has

    def blend(self, probs: np.ndarray, vectors: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The policy after recall: the LM's probabilities mixed with the neighbours' vote."""
        if self.weight == 0.0:
            return probs
        p_mem, has = self.prior(vectors, mask)
        mixed = (1 - self.weight) * probs + self.weight * p_mem
        return np.where(has[:, None], mixed, probs).astype(np.float32)

    def prompt_lines(self, vectors: np.ndarray) -> list[list[str]]:
        """Per row, the memory lines for its prompt (none when `lines` is 0)."""
        if not self.lines:
            return [[] for _ in range(len(vectors))]
        steps = self.store.search(vectors, self.lines, kind="step")
        lessons = self.store.search(vectors, 1, kind="lesson")
        out = []
        for near, lesson in zip(steps, lessons, strict=True):
            rows = [
                f"Memory: here {e.action} worked (success in {e.steps} steps)."
                for e in (self.store.entries[key] for key, d in near if d <= self.radius)
            ]
            rows += [f"Lesson: {self.store.entries[key].text}" for key, _ in lesson]
            out.append(rows)
        return out

    # -- remembering ----------------------------------------------------------------------
    def note(self, keys, steps: np.ndarray, vectors, texts, actions, cells=None) -> None:
        """Journal this decision of every row (a row at step 0 starts a new journal); `cells`
        int[n, 2] are where the agents stand, for erasing the loops of a success's path."""
        names = self.scenario.actions
        for row, (key, t) in enumerate(zip(keys, steps.tolist(), strict=True)):
            if t == 0 or key not in self.journal:
                self.journal[key] = []
            cell = None if cells is None else tuple(int(x) for x in cells[row])
            self.journal[key].append((vectors[row], texts[row], names[int(actions[row])], cell))

    def episode_over(self, world: int, success: bool, steps: int, returns: dict[int, float]) -> int:
        """Files the journals of `world`'s agents (agent index -> its return); the entries added."""
        added, vectors = [], []
        write = self.writer or lesson_text
        for (w, agent), journal in list(self.journal.items()):
            if w != world or not journal:
                continue
            outcome = float(returns.get(agent, 0.0))
            if success:
                for vector, text, action, _ in loop_erased(journal):
                    vectors.append(vector)
                    added.append(Entry("step", self.scenario.name, text, action, True, outcome, steps))
            lesson = write(self.scenario.name, success, steps, outcome, self.scenario.max_cycles)
            vectors.append(np.mean([v for v, *_ in journal], axis=0))
            added.append(Entry("lesson", self.scenario.name, lesson, "", bool(success), outcome, steps))
            del self.journal[(w, agent)]
        if added:
            self.store.add(np.stack(vectors), added)
        return len(added)


def loop_erased(journal: list) -> list:
    """The journal's steps on the way that worked: whenever the agent stands again on a cell it
    stood on before, the steps since it first stood there are dropped (a walk that came back
    taught nothing), so what remains leads from the start to the end without a loop. Steps
    without a cell are all kept."""
    path: list = []
    where: dict = {}
    for step in journal:
        cell = step[3]
        if cell is not None and cell in where:
            cut = where[cell]
            for gone in path[cut:]:
                where.pop(gone[3], None)
            del path[cut:]
        if cell is not None:
            where[cell] = len(path)
        path.append(step)
    return path
