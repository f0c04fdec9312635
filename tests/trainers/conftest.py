import pytest


@pytest.fixture(autouse=True)
def _eager_steps(request, monkeypatch):
    """Trainer tests check the eager semantics: the compiler is reported unavailable, so
    jit_compile='auto' runs the steps eagerly whatever state graphkit.compiler is in.
    Modules that set USES_REAL_COMPILER = True test the compiled path itself."""
    if getattr(request.module, "USES_REAL_COMPILER", False):
        return
    from graphkit.trainers import trainer
    monkeypatch.setattr(trainer, "compiler_status",
                        lambda: (None, "disabled in the trainer tests"))
