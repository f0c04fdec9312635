"""The eager fast paths give the same answers as the general paths they skip.

- `bind` with only Tensor operands, `promote` of same-dtype Tensors or Tensors with Python
  numbers, `Tensor.dtype` from a name cache, `Variable.assign` of a matching Tensor.
- The tape's backward walk skips the cotangents of inputs that no source depends on (data,
  constants): the gradients it returns are unchanged, and the skipped work is not done.
"""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.core import tensor as tensor_mod
from graphkit.core.autodiff import backward
from graphkit.ops.convert import promote
from graphkit.ops.primitive import ACTIVE_TAPES


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int32",
                                   "int64", "uint8", "bool"])
def test_tensor_dtype_names(dtype):
    t = gk.ops.convert_to_tensor(np.zeros((2,), dtype))
    assert t.dtype == dtype
    assert t.dtype == np.dtype(dtype).name  # asked twice: the cached name is the same


@pytest.mark.parametrize("left, right, expected", [
    ("float32", "float32", "float32"),
    ("float16", 2.0, "float16"),              # a Python float is weak
    ("float64", 3, "float64"),                # so is a Python int
    ("int32", 2.0, "float32"),                # int tensor + float scalar: floatx
    ("int8", 3, "int8"),
    ("float32", True, "float32"),             # a bool is a weak bool, not a weak int
    ("float32", "float64", "float64"),
    ("int8", "float16", "float16"),
    ("bool", "bool", "bool"),
])
def test_promote_matches_the_promotion_rules(left, right, expected):
    a = ops.convert_to_tensor(np.ones((2,), left))
    b = ops.convert_to_tensor(np.ones((2,), right)) if isinstance(right, str) else right
    pa, pb = promote(a, b)
    assert pa.dtype == pb.dtype == expected
    assert np.array_equal(pb.numpy(), np.asarray(b, dtype=expected))
    if expected == left:
        assert pa is a  # nothing converted


def test_promote_keeps_same_dtype_tensors_as_they_are():
    a, b = ops.convert_to_tensor(np.ones(3, "int16")), ops.convert_to_tensor(np.ones(3, "int16"))
    pa, pb = promote(a, b)
    assert pa is a and pb is b


def test_variable_assign_checks_shape_and_converts_dtype():
    v = gk.Variable(np.zeros((2, 3), "float32"))
    same = ops.convert_to_tensor(np.ones((2, 3), "float32"))
    assert v.assign(same) is same
    v.assign(np.full((2, 3), 2.0, "float64"))        # converted to the variable's dtype
    assert v.dtype == "float32" and np.all(v.numpy() == 2.0)
    with pytest.raises(ValueError, match="cannot assign a value of shape"):
        v.assign(ops.convert_to_tensor(np.ones((3, 2), "float32")))


def _count_binds(monkeypatch):
    counts = {}
    original = tensor_mod.Tensor._bind.__func__

    def counting(cls, prim, args, attrs):
        counts[prim.name] = counts.get(prim.name, 0) + 1
        return original(cls, prim, args, attrs)
    monkeypatch.setattr(tensor_mod.Tensor, "_bind", classmethod(counting))
    return counts


def test_backward_skips_the_data_gradient_of_a_matmul(monkeypatch):
    rng = np.random.default_rng(0)
    x = ops.convert_to_tensor(rng.normal(size=(5, 4)).astype("float32"))   # data
    w = gk.Variable(rng.normal(size=(4, 3)).astype("float32"))
    with gk.GradientTape() as tape:
        loss = ops.sum(ops.relu(ops.matmul(x, w)) * 0.5)
    counts = _count_binds(monkeypatch)
    g = tape.gradient(loss, w)
    # d loss / d w = x^T (0.5 * relu'(xw)), as float64 NumPy computes it
    xw = x.numpy().astype("float64") @ w.numpy().astype("float64")
    expected = x.numpy().T.astype("float64") @ (0.5 * (xw > 0))
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert counts.get("matmul") == 1   # x^T @ ct only: no ct @ w^T for the data


class _Recorder:
    """Records every differentiable bind as `(prim, inputs, outputs, attrs)`, the format the
    IR autodiff hands `backward`, with every value kept alive."""

    def __init__(self):
        self.records = []

    def _record(self, prim, inputs, outputs, attrs):
        self.records.append((prim, inputs, outputs, attrs))

    def _on_variable_read(self, variable, value):
        pass


def test_backward_with_and_without_needed_gives_the_same_gradients():
    rng = np.random.default_rng(1)
    data = ops.convert_to_tensor(rng.normal(size=(6, 3)).astype("float64"))
    w = ops.convert_to_tensor(rng.normal(size=(3, 2)).astype("float64"))
    b = ops.convert_to_tensor(rng.normal(size=(2,)).astype("float64"))
    recorder = _Recorder()
    ACTIVE_TAPES.append(recorder)
    try:
        with gk.GradientTape() as tape:
            tape.watch([w, b])
            h = ops.maximum(ops.matmul(data, w) + b, 0.0)
            z = ops.where(h > 0.1, h * 2.0, 1.0 - h) / (data[:, :2] + 5.0)
            loss = ops.sum(ops.minimum(z, 3.0) - data[:, 1:] * 0.25)
    finally:
        ACTIVE_TAPES.remove(recorder)
    needed = {id(w), id(b)}
    for _, inputs, outputs, _ in recorder.records:
        if any(id(x) in needed for x in inputs):
            needed.add(id(outputs))
    seeds = {id(loss): ops.ones_like(loss)}
    full = backward(recorder.records, dict(seeds))
    pruned = backward(recorder.records, dict(seeds), needed=needed)
    taped = tape.gradient(loss, [w, b])
    for source, g in zip((w, b), taped):
        np.testing.assert_array_equal(full[id(source)].numpy(), pruned[id(source)].numpy())
        np.testing.assert_array_equal(full[id(source)].numpy(), g.numpy())
    assert id(data) in full and id(data) not in pruned


def test_gradient_of_a_watched_input_is_still_computed():
    x = ops.convert_to_tensor(np.array([[1.0, -2.0]], "float64"))
    w = ops.convert_to_tensor(np.array([[3.0], [4.0]], "float64"))
    with gk.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.matmul(x, w))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[3.0, 4.0]])


def test_stateless_scope_holds_the_variables_it_keys_by_id():
    """StatelessScope keys values by id(): it must keep every variable it was given or was
    assigned alive, so that no other variable can take a dead one's id meanwhile."""
    import gc
    import weakref
    import graphkit as gk
    from graphkit.core import scopes
    v = gk.Variable(np.ones(3, "float32"))
    with scopes.StatelessScope([(v, gk.ops.zeros((3,)))]) as scope:
        w = gk.Variable(np.ones(2, "float32"))
        w.assign(gk.ops.zeros((2,)))
        ref = weakref.ref(w)
        del w
        gc.collect()
        assert ref() is not None                # held by the scope
        np.testing.assert_array_equal(np.asarray(scope.get_current_value(ref())), 0)
        np.testing.assert_array_equal(np.asarray(v.value), 0)
    np.testing.assert_array_equal(v.numpy(), 1)  # the variable itself was never written
