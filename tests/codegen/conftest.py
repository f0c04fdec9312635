import pytest


@pytest.fixture
def no_fallback(monkeypatch):
    """Lowering failures raise instead of falling back to the interpreter."""
    monkeypatch.setenv("GRAPHKIT_LLVM_FALLBACK", "0")
