import numpy as np
import pytest

import graphkit as gk
from graphkit import constraints

EPS = 1e-7
RNG = np.random.default_rng(0)
W = (RNG.normal(size=(4, 3)) * 2).astype(np.float32)
W64 = W.astype(np.float64)


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


def _check(out, expected):
    assert isinstance(out, gk.Tensor) and out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis", [0, 1, [0, 1]])
def test_max_norm(axis):
    n = _norms(W64, tuple(axis) if isinstance(axis, list) else axis)
    _check(constraints.MaxNorm(1.5, axis=axis)(W), W64 * np.clip(n, 0, 1.5) / (EPS + n))


def test_max_norm_leaves_small_weights():
    small = W / 100
    _check(constraints.MaxNorm()(small), small.astype(np.float64))


def test_non_neg():
    _check(constraints.NonNeg()(W), np.where(W64 >= 0, W64, 0.0))


def test_non_neg_gives_positive_zero_for_negative_and_infinite_entries():
    w = np.array([-2.0, -np.inf, 0.0, 3.0, np.inf], np.float32)
    out = constraints.NonNeg()(w).numpy()
    np.testing.assert_array_equal(out, [0.0, 0.0, 0.0, 3.0, np.inf])
    assert not np.signbit(out).any()


@pytest.mark.parametrize("axis", [0, 1])
def test_unit_norm(axis):
    out = constraints.UnitNorm(axis=axis)(W)
    _check(out, W64 / (EPS + _norms(W64, axis)))
    np.testing.assert_allclose(_norms(out.numpy().astype(np.float64), axis), 1.0, rtol=1e-5)


@pytest.mark.parametrize("rate", [1.0, 0.5])
def test_min_max_norm(rate):
    n = _norms(W64, 0)
    desired = rate * np.clip(n, 2.0, 3.0) + (1 - rate) * n
    _check(constraints.MinMaxNorm(2.0, 3.0, rate=rate)(W), W64 * desired / (EPS + n))


def test_works_on_variables():
    v = gk.Variable(W)
    _check(constraints.NonNeg()(v), np.where(W64 >= 0, W64, 0.0))


def test_defaults_configs_and_names():
    assert constraints.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert constraints.UnitNorm().get_config() == {"axis": 0}
    assert constraints.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0,
                                                     "rate": 1.0, "axis": 0}
    assert constraints.NonNeg().get_config() == {}
    for name, cls in [("max_norm", constraints.MaxNorm), ("non_neg", constraints.NonNeg),
                      ("unit_norm", constraints.UnitNorm),
                      ("min_max_norm", constraints.MinMaxNorm), ("MaxNorm", constraints.MaxNorm)]:
        assert type(constraints.get(name)) is cls
    config = constraints.serialize(constraints.MaxNorm(3, axis=1))
    assert config["class_name"] == "MaxNorm"
    assert constraints.get(config).get_config() == {"max_value": 3, "axis": 1}
    c = constraints.UnitNorm()
    assert constraints.get(c) is c and constraints.get(None) is None
    assert constraints.max_norm is constraints.MaxNorm


def test_unknown_name():
    with pytest.raises(ValueError, match="Unknown constraint: 'max_nrom'.*Did you mean 'max_norm'"):
        constraints.get("max_nrom")
