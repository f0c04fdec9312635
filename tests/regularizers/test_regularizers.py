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


def ref_orthogonal(w, factor, mode):
    """factor * 0.5 * sum |cos| over ordered off-diagonal pairs / number of pairs."""
    v = w if mode == "rows" else w.T
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    cos = np.abs(v @ v.T)
    n = len(v)
    return factor * 0.5 * (cos.sum() - np.trace(cos)) / (n * (n - 1) / 2)


ORTHO_W = np.random.default_rng(3).normal(size=(5, 4)).astype(np.float32)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_against_numpy(mode):
    reg = regularizers.OrthogonalRegularizer(factor=0.3, mode=mode)
    out = reg(ORTHO_W)
    assert out.shape == () and out.dtype == "float32"
    np.testing.assert_allclose(float(out), ref_orthogonal(ORTHO_W.astype(np.float64), 0.3,
                                                          mode), rtol=1e-5)


def test_orthogonal_regularizer_is_zero_on_orthogonal_rows_and_differentiates():
    q = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0].astype(np.float32)
    assert float(regularizers.OrthogonalRegularizer(1.0)(q[:3] * 2.0)) < 1e-6
    w = gk.Variable(ORTHO_W)
    with gk.GradientTape() as tape:
        loss = regularizers.OrthogonalRegularizer(0.5)(w)
    (g,) = tape.gradient(loss, [w])
    eps, probe = 1e-3, np.zeros_like(ORTHO_W, dtype=np.float64)
    probe[1, 2] = eps
    w64 = ORTHO_W.astype(np.float64)
    numeric = (ref_orthogonal(w64 + probe, 0.5, "rows") -
               ref_orthogonal(w64 - probe, 0.5, "rows")) / (2 * eps)
    np.testing.assert_allclose(g.numpy()[1, 2], numeric, rtol=1e-3)


def test_orthogonal_regularizer_config_names_and_errors():
    reg = regularizers.OrthogonalRegularizer(factor=0.2, mode="columns")
    assert reg.get_config() == {"factor": 0.2, "mode": "columns"}
    assert regularizers.OrthogonalRegularizer().get_config() == {"factor": 0.01,
                                                                  "mode": "rows"}
    back = regularizers.deserialize(regularizers.serialize(reg))
    assert type(back) is regularizers.OrthogonalRegularizer
    assert back.get_config() == reg.get_config()
    assert type(regularizers.get("orthogonal_regularizer")) is \
        regularizers.OrthogonalRegularizer
    assert regularizers.orthogonal_regularizer is regularizers.OrthogonalRegularizer
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="factor"):
        regularizers.OrthogonalRegularizer(factor=-1.0)
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2), np.float32))


def test_orthogonal_regularizer_on_a_layer_adds_its_loss():
    layer = gk.layers.Dense(3, kernel_regularizer="orthogonal_regularizer")
    layer(np.ones((2, 4), np.float32))
    kernel = layer.kernel.numpy().astype(np.float64)
    np.testing.assert_allclose(float(sum(layer.losses)), ref_orthogonal(kernel, 0.01, "rows"),
                               rtol=1e-5)
