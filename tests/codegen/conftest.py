import pytest


@pytest.fixture
def no_fallback(monkeypatch):
    """Lowering failures raise instead of falling back to the interpreter."""
    monkeypatch.setenv("GRAPHKIT_LLVM_FALLBACK", "0")


@pytest.fixture
def fresh_cache(tmp_path):
    """A kernel cache folder of the test's own: a compile the test expects to be cold is
    cold even when the run's shared GRAPHKIT_CACHE_DIR is warm from an earlier run."""
    from graphkit import config
    saved = config._state["cache_dir"]
    config.set_cache_dir(tmp_path)
    yield tmp_path
    config.set_cache_dir(saved)
