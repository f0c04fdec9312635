import numpy as np
import pytest

import graphkit as gk
from graphkit import ops


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_float_and_int_accept_every_one_element_tensor_and_variable(shape):
    t = gk.Tensor(np.full(shape, 2.5, np.float32))
    v = gk.Variable(np.full(shape, 2.5, np.float32))
    assert float(t) == 2.5 and int(t) == 2
    assert float(v) == 2.5 and int(v) == 2


def test_float_of_a_larger_tensor_names_its_shape():
    with pytest.raises(TypeError, match=r"one element.*\(2,\)"):
        float(gk.Tensor(np.zeros(2, np.float32)))


def test_only_integer_tensors_are_indices():
    assert [10, 20, 30][gk.Tensor(np.int32(1))] == 20
    with pytest.raises(TypeError, match="integer scalar"):
        [10, 20, 30][gk.Tensor(np.float32(1.7))]


def test_variable_accepts_a_string_initializer():
    v = gk.Variable("ones", shape=(2, 3))
    assert v.shape == (2, 3) and v.dtype == "float32"
    np.testing.assert_array_equal(v.numpy(), np.ones((2, 3)))


def test_reflected_floor_divide_and_mod_with_an_array_on_the_left_stay_on_the_tape():
    t = ops.convert_to_tensor(np.array([3.0, -4.0], np.float32))
    n = np.array([7.0, 7.0], np.float32)
    assert isinstance(n // t, gk.Tensor) and isinstance(n % t, gk.Tensor)
    with gk.GradientTape() as tape:
        tape.watch(t)
        y = ops.sum((n % t) * t)
    a = t.numpy().astype(np.float64)
    # d/dt [(n - floor(n / t) t) t] = n % t - floor(n / t) t
    np.testing.assert_allclose(tape.gradient(y, t).numpy(), np.mod(n, a) - np.floor_divide(n, a) * a)


def test_np_asarray_of_a_variable_does_not_alias_it():
    v = gk.Variable(np.ones((2, 2), np.float32))
    a = np.asarray(v)
    a *= 0.5
    np.testing.assert_array_equal(v.numpy(), np.ones((2, 2)))
    assert np.asarray(v, dtype="float64").dtype == np.float64


def test_format_spec_formats_the_value_of_scalar_tensors_and_variables():
    loss = ops.mean(ops.ones((3,)))
    assert f"{loss:.4f}" == "1.0000"
    assert f"{gk.Variable(1.5):.2f}" == "1.50"
    assert f"{loss}" == str(loss)


def test_comparing_with_none_is_an_identity_test():
    t = gk.Tensor(np.ones(2, np.float32))
    assert (t == None) is False and (t != None) is True  # noqa: E711
    assert (gk.Variable(1.0) == None) is False  # noqa: E711
    assert t not in (None,)


def test_len_of_a_scalar_variable_is_a_type_error():
    assert len(gk.Variable(np.zeros((3, 2), np.float32))) == 3
    with pytest.raises(TypeError, match="0-d"):
        len(gk.Variable(1.0))
