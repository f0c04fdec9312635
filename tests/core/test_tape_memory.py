"""The tape keeps only what gradient rules read (`Primitive.grad_uses`; small arrays are
kept anyway), and names values by keys of its own: temporaries die during the forward pass,
and a new value that reuses a dead value's id is not mistaken for it."""
import gc
import weakref

import numpy as np

import graphkit as gk
from graphkit import ops
from graphkit.core import tape as tape_module
from graphkit.core.autodiff import ShapeOnly
from graphkit.core.tensor import Tensor


def test_temporaries_whose_values_no_rule_reads_are_freed(monkeypatch):
    monkeypatch.setattr(tape_module, "STAND_IN_MIN_BYTES", 0)  # small arrays here
    w = ops.convert_to_tensor(np.full((3, 3), 0.5, "float64"))
    x = ops.convert_to_tensor(np.ones((4, 3), "float64"))
    with gk.GradientTape() as tape:
        tape.watch(w)
        logits = ops.matmul(x, w)          # matmul's rule reads its inputs, not its output
        biased = ops.add(logits, 1.0)      # add's rule reads shapes only
        probe = weakref.ref(logits)
        del logits
        gc.collect()
        assert probe() is None
        y = ops.sigmoid(biased)            # sigmoid's rule reads its output
        probe = weakref.ref(biased)
        del biased
        gc.collect()
        assert probe() is None
        loss = ops.sum(y)
    g = tape.gradient(loss, w)
    s = 1 / (1 + np.exp(-(np.ones((4, 3)) @ np.full((3, 3), 0.5) + 1)))
    np.testing.assert_allclose(g.numpy(), np.ones((4, 3)).T @ (s * (1 - s)), rtol=1e-12)


def test_small_values_are_kept_and_large_ones_get_stand_ins():
    small = ops.convert_to_tensor(np.zeros((2, 5), "float32"))
    with gk.GradientTape() as tape:
        tape.watch(small)
        ops.add(small, small)
    (_, inputs, out, _, _, _), = tape._records
    assert inputs[0] is small and type(out) is not ShapeOnly
    x = ops.convert_to_tensor(np.zeros((200, 100), "float32"))
    with gk.GradientTape() as tape:
        tape.watch(x)
        ops.add(x, x)
    (_, inputs, out, _, keys, _), = tape._records
    assert all(type(v) is ShapeOnly for v in inputs + (out,))
    assert inputs[0].shape == (200, 100) and inputs[0].dtype == "float32" and inputs[0].ndim == 2
    assert keys[0] is not None and keys[0] == keys[1]


def test_a_new_value_with_a_dead_values_id_is_not_watched(monkeypatch):
    monkeypatch.setattr(tape_module, "STAND_IN_MIN_BYTES", 0)  # so that temporaries die
    w = ops.convert_to_tensor(np.float64(2.0))
    with gk.GradientTape() as tape:
        tape.watch(w)
        loss = ops.multiply(w, w)
        reused = False
        for _ in range(50):
            t = ops.multiply(w, 3.0)        # watched; its output is not kept by the tape
            dead_id = id(t)
            array = np.float64(1.0) + np.zeros(())
            del t
            c = Tensor(array)               # data, likely in the dead temporary's memory
            if id(c) == dead_id:
                reused = True
                loss = ops.add(loss, c)     # must not look like the dead temporary
                break
    assert reused, "CPython did not reuse a freed id: the case was not exercised"
    assert tape._key_of(c) is None
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), 4.0)


def test_a_value_watched_by_two_live_tapes_keeps_both_keys():
    # A value's key lives on the value (`_tape_key`) for the first tape; another live tape
    # keys it on its own side, so neither loses it: nested tapes, and a persistent tape
    # asked for its gradient after a later tape watched the same value.
    x = ops.convert_to_tensor(np.float64(3.0))
    with gk.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with gk.GradientTape() as inner:
            inner.watch(x)
            y = ops.multiply(x, x)
        np.testing.assert_allclose(inner.gradient(y, x).numpy(), 6.0)
        z = ops.multiply(y, x)
    with gk.GradientTape() as later:
        later.watch(x)
        w = ops.multiply(x, 2.0)
    np.testing.assert_allclose(later.gradient(w, x).numpy(), 2.0)
    np.testing.assert_allclose(outer.gradient(z, x).numpy(), 27.0)
    np.testing.assert_allclose(outer.gradient(y, x).numpy(), 6.0)


def test_a_dead_tapes_marks_are_taken_over_and_reset_forgets_its_own():
    x = ops.convert_to_tensor(np.float64(2.0))
    with gk.GradientTape() as first:
        first.watch(x)
    del first
    gc.collect()
    with gk.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = ops.multiply(x, x)
    assert tape._watched == {}  # the dead tape's mark was taken over, not shadowed
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 4.0)
    tape.reset()
    assert tape._key_of(x) is None and tape._key_of(y) is None
