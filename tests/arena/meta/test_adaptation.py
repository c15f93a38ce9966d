"""Meta-training pays on held-out tasks: after a small fixed-seed budget (20,000 env steps), the
multi-task learner does better on new maze levels than a learner from scratch, with no
fine-tuning and after one round. 13 minutes on the shared 2-core machine under load (about two
on an idle one), so it is left out of the default run: `python -m pytest -m long`."""

from __future__ import annotations

import numpy as np
import pytest

from arena.meta.protocol import contender, run_protocol
from arena.meta.tasks import Practice
from arena.meta.train import meta_train

pytestmark = [pytest.mark.long, pytest.mark.usefixtures("one_thread")]
CONFIG = {"max_cycles": 40}  # the family's own limit (3 size^2) lets a random walk succeed often
HYPER = {"hidden": 32}


def test_meta_trained_learner_adapts_better_than_scratch(tmp_path):
    for method in ("reptile", "multitask"):
        meta_train("maze", method, 20_000, tmp_path / method, hyper=dict(HYPER), config=CONFIG, quiet=True)
    practice = Practice("maze", "ppo", HYPER, CONFIG, eval_worlds=32)
    runs = [contender(str(tmp_path / m)) for m in ("reptile", "multitask")] + [contender("scratch")]
    summary = run_protocol(runs, practice, shots=1, round_steps=1024, count=4, seed=0)
    area = {name: float(np.mean(r["mean"])) for name, r in summary["contenders"].items()}
    # Measured (seed 0, mean over rounds 0 and 1): multitask 0.51, scratch 0.14, reptile 0.00.
    # At this budget Reptile has learned the one-agent train mazes (0.7-1.0 on several) but none
    # of the four held-out ones (11 and 13 cells, 2-3 agents); at 60,000 env steps and hidden=64
    # it beats scratch (docs/meta.md). The margin leaves room for other machines' arithmetic.
    assert area["multitask"] > area["scratch"] + 0.2, area
    assert summary["contenders"]["multitask"]["mean"][0] > summary["contenders"]["scratch"]["mean"][0]
