import importlib

import pytest


@pytest.fixture(autouse=True)
def _fresh_jit_sites():
    """Each test starts with no record of previously jitted functions (the hint about
    re-wrapping a function would otherwise fire across tests)."""
    importlib.import_module("graphkit.compiler.jit")._TRACED_SITES.clear()
    yield
