"""Shared test setup: one compiled-kernel cache folder per test run, fresh layer names per test."""
import os
import tempfile

import pytest

if not os.environ.get("GRAPHKIT_CACHE_DIR"):
    os.environ["GRAPHKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="graphkit-test-cache-")


@pytest.fixture(autouse=True)
def _fresh_names():
    """Each test sees `dense`, `dense_1`, ... from the start, as in a fresh Keras session."""
    from graphkit import naming
    naming.reset_uids()
    yield
