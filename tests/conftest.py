"""Shared test set-up: offline hubs, a clean DSPy configuration per test, fixture plugins."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import dspy  # noqa: E402
import pytest  # noqa: E402

pytest_plugins = ["tests.fixtures_data", "tests.fixtures_models", "tests.fixtures_retrieval", "tests.fixtures_runs"]


@pytest.fixture(autouse=True)
def clean_dspy_settings():
    """Each test starts from DSPy's default configuration, as DSPy's own test suite does."""
    with dspy.context(lm=None, adapter=None, rm=None):
        yield
