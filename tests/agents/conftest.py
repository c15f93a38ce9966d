"""Fixtures of the learner tests."""

from __future__ import annotations

import pytest

from agents.lm.tokenizer import build_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    """The project's word-level tokenizer (`agents.lm.tokenizer`), built once per test module."""
    return build_tokenizer()
