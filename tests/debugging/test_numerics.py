import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops


@pytest.fixture(autouse=True)
def _check_off_afterwards():
    yield
    gk.debugging.disable_check_numerics()


def test_off_by_default_and_nan_passes_silently():
    assert not gk.debugging.check_numerics_enabled()
    with np.errstate(invalid="ignore"):
        out = ops.log(np.array([-1.0], "float32"))
    assert np.isnan(out.numpy()).all()


def test_enabled_names_the_op_and_what_it_made():
    gk.debugging.enable_check_numerics()
    assert gk.config.check_numerics_enabled()
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError,
                                                  match="op 'log'.*NaN"):
        ops.log(np.array([-1.0, 1.0], "float32"))
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError,
                                                  match="op 'divide'.*Inf"):
        ops.divide(np.array([1.0], "float32"), np.array([0.0], "float32"))


def test_finite_results_and_integer_ops_pass():
    gk.debugging.enable_check_numerics()
    np.testing.assert_allclose(ops.exp(np.array([0.0, 1.0], "float32")).numpy(),
                               np.exp([0.0, 1.0]), rtol=1e-6)
    assert ops.add(np.array([1, 2]), 3).numpy().tolist() == [4, 5]


def test_names_the_layer_path_of_the_first_bad_op():
    inputs = gk.Input((3,))
    hidden = layers.Dense(4, name="hidden")(inputs)
    outputs = layers.Dense(2, name="head")(hidden)
    model = gk.Model(inputs, outputs, name="net")
    model.get_layer("head").kernel.assign(np.full((4, 2), np.inf, "float32"))
    gk.debugging.enable_check_numerics()
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError) as info:
        model(np.ones((1, 3), "float32"))
    assert "'net/head'" in str(info.value)  # the first op to fail is in the head layer


def test_disable_and_scoped_check():
    gk.debugging.enable_check_numerics()
    gk.debugging.disable_check_numerics()
    with np.errstate(all="ignore"):
        ops.log(np.array([-1.0], "float32"))
        with gk.debugging.numerics_checked():
            with pytest.raises(FloatingPointError):
                ops.log(np.array([-1.0], "float32"))
        ops.log(np.array([-1.0], "float32"))
    assert not gk.debugging.check_numerics_enabled()
