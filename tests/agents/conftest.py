"""Fixtures of the learner tests."""

from __future__ import annotations

import pytest
import torch

from agents.lm.tokenizer import build_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    """The project's word-level tokenizer (`agents.lm.tokenizer`), built once per test module."""
    return build_tokenizer()


@pytest.fixture
def one_thread():
    """Small nets run fastest on one thread, and the test machine has two cores to share
    (used by the learner tests: `pytestmark = pytest.mark.usefixtures("one_thread")`)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
