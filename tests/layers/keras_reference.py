"""Keras 3 for parity tests, when installed (it is optional; tests skip without it)."""
import os

import pytest


def keras_or_skip():
    os.environ.setdefault("KERAS_BACKEND", "numpy")  # same backend as test_keras_parity.py
    return pytest.importorskip("keras")
