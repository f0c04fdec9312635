import numpy as np
import pytest

import graphkit as gk
from graphkit import regularizers

W = np.array([[0.5, -1.5, 2.0], [-0.25, 0.0, 3.0]], np.float32)
W64 = W.astype(np.float64)


@pytest.mark.parametrize("reg,expected", [
    (regularizers.L1(), 0.01 * np.abs(W64).sum()),
    (regularizers.L2(), 0.01 * np.square(W64).sum()),
    (regularizers.L1(0.3), 0.3 * np.abs(W64).sum()),
    (regularizers.L2(l2=0.2), 0.2 * np.square(W64).sum()),
    (regularizers.L1L2(l1=0.1, l2=0.2), 0.1 * np.abs(W64).sum() + 0.2 * np.square(W64).sum()),
    (regularizers.L1L2(), 0.0),
])
def test_values_against_numpy(reg, expected):
    out = reg(W)
    assert isinstance(out, gk.Tensor) and out.shape == () and out.dtype == "float32"
    np.testing.assert_allclose(float(out), expected, rtol=1e-6)


def test_works_on_variables_and_differentiates():
    w = gk.Variable(W)
    with gk.GradientTape() as tape:
        loss = regularizers.L1L2(l1=0.1, l2=0.2)(w)
    (g,) = tape.gradient(loss, [w])
    np.testing.assert_allclose(g.numpy(), 0.1 * np.sign(W64) + 0.4 * W64, rtol=1e-6)


def test_defaults_configs_and_names():
    assert regularizers.L2().get_config() == {"l2": 0.01}
    assert regularizers.L1().get_config() == {"l1": 0.01}
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert type(regularizers.get("l1")) is regularizers.L1
    assert type(regularizers.get("l2")) is regularizers.L2
    assert type(regularizers.get("l1_l2")) is regularizers.L1L2
    assert type(regularizers.get("L1L2")) is regularizers.L1L2
    assert regularizers.l1 is regularizers.L1 and regularizers.l1_l2 is regularizers.L1L2
    config = regularizers.serialize(regularizers.L1L2(0.5, 0.25))
    assert config["class_name"] == "L1L2" and config["config"] == {"l1": 0.5, "l2": 0.25}
    assert regularizers.get(config).get_config() == {"l1": 0.5, "l2": 0.25}
    reg = regularizers.L2(0.1)
    assert regularizers.get(reg) is reg and regularizers.get(None) is None


def test_errors():
    with pytest.raises(ValueError, match="L2.*l2.*non-negative.*-0.1"):
        regularizers.L2(-0.1)
    with pytest.raises(ValueError, match="L1L2.*l1.*non-negative.*nan"):
        regularizers.L1L2(l1=float("nan"))
    with pytest.raises(ValueError, match="Unknown regularizer: .l1_l3.*Did you mean .l1_l2."):
        regularizers.get("l1_l3")
