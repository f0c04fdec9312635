import numpy as np
import pytest

import graphkit as gk
from graphkit import ops


def test_variable_gradient_through_broadcast():
    x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    w = gk.Variable(np.full((2,), 0.5, np.float32), name="w")
    with gk.GradientTape() as tape:
        y = ops.sum(ops.exp(x) * w)
    (g,) = tape.gradient(y, [w])
    np.testing.assert_allclose(g.numpy(), np.exp(x.astype(np.float64)).sum(0), rtol=1e-6)


def test_non_persistent_tape_refuses_second_gradient():
    x = gk.ops.convert_to_tensor([1.0, 2.0])
    with gk.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(x * x)
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)


def test_persistent_tape_and_unconnected_source():
    x = gk.ops.convert_to_tensor([1.0, 2.0])
    z = gk.ops.convert_to_tensor([3.0])
    with gk.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = ops.sum(ops.log(x))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [1.0, 0.5])
    assert tape.gradient(y, z) is None
    np.testing.assert_array_equal(
        tape.gradient(y, z, unconnected_gradients="zero").numpy(), [0.0])


def test_nested_tapes_give_second_derivative():
    x = gk.ops.convert_to_tensor(2.0)
    with gk.GradientTape() as outer:
        outer.watch(x)
        with gk.GradientTape() as inner:
            inner.watch(x)
            y = x * x * x
        dy = inner.gradient(y, x)
    d2y = outer.gradient(dy, x)
    assert float(dy) == pytest.approx(12.0)
    assert float(d2y) == pytest.approx(12.0)


def test_non_scalar_target_is_summed():
    x = gk.ops.convert_to_tensor([1.0, 2.0, 3.0])
    with gk.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2.0, 4.0, 6.0])


def test_watch_accessed_variables_false_ignores_unwatched_variables():
    v = gk.Variable(np.float32(3.0), name="v")
    with gk.GradientTape(watch_accessed_variables=False) as tape:
        y = v * v
    assert tape.gradient(y, v) is None


def test_value_and_grad_argnums_and_aux():
    def f(a, b):
        return ops.sum(a * b), a + b

    (val, aux), (ga, gb) = gk.value_and_grad(f, argnums=(0, 1), has_aux=True)(
        np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0], np.float32))
    assert float(val) == pytest.approx(11.0)
    np.testing.assert_allclose(ga.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gb.numpy(), [1.0, 2.0])
    np.testing.assert_allclose(aux.numpy(), [4.0, 6.0])


def test_cast_of_python_scalar_does_not_round_through_floatx():
    assert gk.ops.cast(0.9, "float64").numpy() == 0.9


def test_mixed_precision_gradients_have_the_variable_dtype():
    layer = gk.layers.Dense(2, dtype="mixed_float16")
    x = np.ones((3, 4), np.float32)
    with gk.GradientTape() as tape:
        loss = ops.sum(ops.cast(layer(x), "float32"))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert [g.dtype for g in grads] == ["float32", "float32"]
    np.testing.assert_allclose(grads[0].numpy(), np.full((4, 2), 3.0))


def test_value_and_grad_has_aux_requires_a_pair():
    with pytest.raises(TypeError, match=r"pair \(value, aux\)"):
        gk.value_and_grad(lambda a: a * a, has_aux=True)(3.0)


def test_value_and_grad_over_a_list_of_tensors_or_arrays():
    # A flat list of Tensors (a training step's weights) is taken without a tree walk;
    # the function gets a list of its own either way, and NumPy leaves are converted.
    weights = [ops.convert_to_tensor(np.array([1.0, 2.0], np.float32)),
               ops.convert_to_tensor(np.array(3.0, np.float32))]
    mixed = [weights[0], np.array(3.0, np.float32)]
    seen = []

    def f(ws):
        seen.append(ws)
        return ops.sum(ws[0] * ws[1])

    for given in (weights, tuple(weights), mixed):
        value, grads = gk.value_and_grad(f)(given)
        assert seen[-1] is not given or type(given) is tuple
        assert type(seen[-1]) is type(given)
        np.testing.assert_allclose(value.numpy(), 9.0)
        assert type(grads) is type(given) and len(grads) == 2
        np.testing.assert_allclose(grads[0].numpy(), [3.0, 3.0])
        np.testing.assert_allclose(grads[1].numpy(), 3.0)
