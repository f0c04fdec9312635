"""jit_compile=True needs every kernel of a step native; "auto" goes eager and says why.

The op here is a primitive made for the test (an identity in the "opaque" category, which
no codegen lowers), so the check does not depend on which real ops happen to be lowered."""
import logging

import numpy as np
import pytest

import graphkit as gk
from graphkit.compiler.executable import CompileError
from graphkit.ops.primitive import PRIMITIVES, Aval, Primitive, bind

USES_REAL_COMPILER = True


@pytest.fixture()
def opaque_copy():
    prim = Primitive("test_opaque_copy", eager=lambda x: np.array(x, copy=True),
                     infer=lambda x: Aval(x.shape, x.dtype),
                     grad=lambda ct, out, x: (ct,), category="opaque")
    yield prim
    del PRIMITIVES[prim.name]  # the parity sweep expects a case for every primitive


class OpaqueCopy(gk.layers.Layer):
    def __init__(self, prim, **kwargs):
        super().__init__(**kwargs)
        self.prim = prim

    def call(self, x):
        return bind(self.prim, x)


def _model(prim, jit_compile):
    inputs = gk.Input((4,))
    outputs = gk.layers.Dense(2)(OpaqueCopy(prim)(gk.layers.Dense(3)(inputs)))
    model = gk.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")


def test_jit_compile_true_fails_naming_the_op(opaque_copy):
    model = _model(opaque_copy, True)
    x, y = _data()
    with pytest.raises(CompileError, match="test_opaque_copy.*stage: lowering"):
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)


def test_auto_runs_eagerly_with_a_one_line_reason(opaque_copy, caplog):
    model = _model(opaque_copy, "auto")
    x, y = _data()
    with caplog.at_level(logging.WARNING, logger="graphkit.trainers"):
        history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    reasons = [r.getMessage() for r in caplog.records if "test_opaque_copy" in r.getMessage()]
    assert len(reasons) == 1 and "\n" not in reasons[0] and "runs eagerly" in reasons[0]
    assert not model.train_function.is_compiled
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_auto_stays_compiled_when_every_kernel_is_native():
    inputs = gk.Input((4,))
    model = gk.Model(inputs, gk.layers.Dense(2)(gk.layers.Dense(3, activation="relu")(inputs)))
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert model.train_function.is_compiled
