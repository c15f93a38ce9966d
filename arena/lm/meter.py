"""A seat's controller, timed and its tokens counted, for `arena lm eval`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from agents.base import Observations


class Meter:
    """A controller, timed: the rows it acted for, the seconds spent in its `act`, and the
    tokens it used where it can say (`TokenCount`)."""

    def __init__(self, controller):
        self.controller = controller
        self.name = getattr(controller, "name", "controller")
        self.decisions, self.seconds = 0, 0.0
        self.tokens = TokenCount.of(controller)

    def act(self, obs: Observations) -> np.ndarray:
        start = time.perf_counter()
        actions = self.controller.act(obs)
        self.seconds += time.perf_counter() - start
        self.decisions += len(obs)
        return actions


@dataclass
class TokenCount:
    """Tokens a language-model seat used, counted with its own tokenizer. A seat that scores
    actions (a `Scorer`: `LMController`, the LM learners) reads each prompt (`prompt`, its
    prefix's keys and values cached across steps) and scores every candidate action's tokens
    after it (`candidates`). A seat that generates text says so itself: a controller with a
    `token_usage()` method returning cumulative `{"prompt": int, "generated": int}` is read
    before and after."""

    prompt: int = 0
    candidates: int = 0
    generated: int = 0
    _start: dict = field(default_factory=dict)
    _usage: object = None

    @classmethod
    def of(cls, controller) -> TokenCount | None:
        usage = getattr(controller, "token_usage", None)
        if callable(usage):
            return cls(_start=dict(usage()), _usage=usage)
        scorer = getattr(controller, "scorer", None)
        if scorer is None:
            return None  # not a language model (and transformers stays unimported)
        from agents.lm.scoring import Scorer

        if not isinstance(scorer, Scorer):
            return None
        count = cls()
        score = scorer.score

        def counted(prompts, *args, **kwargs):
            prefixes, bodies = (
                scorer.encode([p.prefix for p in prompts]),
                scorer.encode([p.body for p in prompts]),
            )
            count.prompt += sum(
                len(scorer.bos) + len(a) + len(b) for a, b in zip(prefixes, bodies, strict=True)
            )
            count.candidates += len(prompts) * int(scorer.cand_len.sum())
            return score(prompts, *args, **kwargs)

        scorer.score = counted
        return count

    def totals(self) -> dict[str, int]:
        if self._usage is not None:
            now = self._usage()
            return {k: int(now.get(k, 0)) - int(self._start.get(k, 0)) for k in ("prompt", "generated")} | {
                "candidates": 0
            }
        return {"prompt": self.prompt, "candidates": self.candidates, "generated": self.generated}
