"""Losses against NumPy float64: per-sample values, reductions, sample weights, masks."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import losses, ops

RNG = np.random.default_rng(1)
EPS = 1e-7


def logits(n=6, c=4):
    return RNG.normal(size=(n, c))


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def np64(x):
    return np.asarray(x, dtype=np.float64)


# -- per-sample references (float64) ---------------------------------------------------------

def ref_mse(t, p):
    return np.mean((t - p) ** 2, -1)


def ref_mae(t, p):
    return np.mean(np.abs(t - p), -1)


def ref_bce(t, p, from_logits=False, smoothing=0.0):
    t = t * (1 - smoothing) + 0.5 * smoothing
    if from_logits:  # the stable form
        per = np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))
    else:
        p = np.clip(p, EPS, 1 - EPS)
        per = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    return per.mean(-1)


def ref_cce(t, p, from_logits=False, smoothing=0.0):
    t = t * (1 - smoothing) + smoothing / t.shape[-1]
    if from_logits:
        logp = p - p.max(-1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    else:
        p = p / p.sum(-1, keepdims=True)
        logp = np.log(np.clip(p, EPS, 1 - EPS))
    return -(t * logp).sum(-1)


def ref_huber(t, p, delta=1.0):
    e = np.abs(p - t)
    return np.mean(np.where(e <= delta, 0.5 * e ** 2, delta * e - 0.5 * delta ** 2), -1)


def ref_kld(t, p):
    t, p = np.clip(t, EPS, 1), np.clip(p, EPS, 1)
    return np.sum(t * np.log(t / p), -1)


def test_mean_squared_and_absolute_error_functions():
    t, p = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3))
    np.testing.assert_allclose(losses.mean_squared_error(t, p).numpy(), ref_mse(t, p),
                               rtol=1e-12)
    np.testing.assert_allclose(losses.mae(t, p).numpy(), ref_mae(t, p), rtol=1e-12)


def test_mse_class_default_reduction_is_sum_over_batch_size():
    t, p = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3))
    got = losses.MeanSquaredError()(t.astype("float32"), p.astype("float32"))
    assert got.dtype == "float32" and got.shape == ()
    np.testing.assert_allclose(float(got), ref_mse(t, p).mean(), rtol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_binary_crossentropy(from_logits, smoothing):
    t = RNG.integers(0, 2, size=(6, 3)).astype(float)
    z = RNG.normal(size=(6, 3))
    p = z if from_logits else sigmoid(z)
    loss = losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=smoothing,
                                     dtype="float64")
    np.testing.assert_allclose(float(loss(t, p)),
                               ref_bce(t, p, from_logits, smoothing).mean(), rtol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_categorical_crossentropy(from_logits, smoothing):
    labels = RNG.integers(0, 4, size=6)
    t = np.eye(4)[labels]
    z = logits()
    p = z if from_logits else softmax(z)
    loss = losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=smoothing,
                                          dtype="float64")
    np.testing.assert_allclose(float(loss(t, p)), ref_cce(t, p, from_logits, smoothing).mean(),
                               rtol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_shape", [(6,), (6, 1)])
def test_sparse_categorical_crossentropy(from_logits, label_shape):
    labels = RNG.integers(0, 4, size=6)
    z = logits()
    p = z if from_logits else softmax(z)
    want = ref_cce(np.eye(4)[labels], p, from_logits)
    loss = losses.SparseCategoricalCrossentropy(from_logits=from_logits, reduction="none",
                                                dtype="float64")
    got = loss(labels.reshape(label_shape), p)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


def test_sparse_categorical_crossentropy_ignore_class_averages_over_valid_samples():
    labels = np.array([0, 2, 1, 2, 3])
    z = logits(5, 4)
    per = ref_cce(np.eye(4)[labels], z, from_logits=True)
    valid = labels != 2
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2,
                                                dtype="float64")
    np.testing.assert_allclose(float(loss(labels, z)), per[valid].mean(), rtol=1e-6)
    none = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2,
                                                reduction="none", dtype="float64")
    np.testing.assert_allclose(none(labels, z).numpy(), np.where(valid, per, 0), rtol=1e-6)


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber(delta):
    t, p = RNG.normal(size=(5, 4)) * 2, RNG.normal(size=(5, 4)) * 2
    np.testing.assert_allclose(float(losses.Huber(delta=delta, dtype="float64")(t, p)),
                               ref_huber(t, p, delta).mean(), rtol=1e-10)


def test_kl_divergence():
    t, p = softmax(logits()), softmax(logits())
    np.testing.assert_allclose(losses.kl_divergence(t, p).numpy(), ref_kld(t, p), rtol=1e-10)
    np.testing.assert_allclose(float(losses.KLDivergence(dtype="float64")(t, p)),
                               ref_kld(t, p).mean(), rtol=1e-10)


# -- reductions and weights ------------------------------------------------------------------

T = RNG.normal(size=(4, 3))
P = RNG.normal(size=(4, 3))
PER = ref_mse(T, P)
W = np.array([1.0, 0.0, 2.0, 0.5])


@pytest.mark.parametrize("reduction,want", [
    ("sum_over_batch_size", (PER * W).sum() / 4),
    ("mean", (PER * W).sum() / 4),
    ("sum", (PER * W).sum()),
    ("mean_with_sample_weight", (PER * W).sum() / W.sum()),
    ("none", PER * W),
    (None, PER * W),
])
def test_reductions_with_sample_weight(reduction, want):
    loss = losses.MeanSquaredError(reduction=reduction, dtype="float64")
    np.testing.assert_allclose(np.asarray(loss(T, P, sample_weight=W)), want, rtol=1e-12)


def test_sample_weight_of_shape_batch_by_one_and_scalar():
    loss = losses.MeanSquaredError(dtype="float64")
    np.testing.assert_allclose(float(loss(T, P, sample_weight=W[:, None])),
                               (PER * W).sum() / 4, rtol=1e-12)
    np.testing.assert_allclose(float(loss(T, P, sample_weight=3.0)), PER.mean() * 3,
                               rtol=1e-12)


def test_mask_on_predictions_excludes_masked_samples_from_the_mean():
    p = gk.ops.convert_to_tensor(P)
    p._keras_mask = gk.ops.convert_to_tensor(np.array([True, False, True, True]))
    got = losses.MeanSquaredError(dtype="float64")(T, p)
    np.testing.assert_allclose(float(got), PER[[0, 2, 3]].mean(), rtol=1e-12)


def test_labels_of_rank_one_against_predictions_with_a_trailing_one():
    t = np.array([1.0, 2.0, 3.0])
    p = np.array([[1.5], [2.0], [2.0]])
    got = losses.MeanSquaredError(reduction="none", dtype="float64")(t, p)
    np.testing.assert_allclose(got.numpy(), [0.25, 0.0, 1.0])


def test_invalid_reduction_is_named():
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")


def test_get_serialize_deserialize():
    assert losses.get("mse") is losses.mean_squared_error
    assert isinstance(losses.get("CategoricalCrossentropy"), losses.CategoricalCrossentropy)
    assert losses.get(losses.huber) is losses.huber
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, name="sce")
    config = losses.serialize(loss)
    assert config["class_name"] == "SparseCategoricalCrossentropy"
    assert config["config"]["from_logits"] is True
    back = losses.deserialize(config)
    assert isinstance(back, losses.SparseCategoricalCrossentropy)
    assert back.get_config() == loss.get_config()
    with pytest.raises(ValueError, match="Did you mean 'mse'"):
        losses.get("mser")


@pytest.mark.parametrize("cls", [losses.MeanSquaredError, losses.MeanAbsoluteError,
                                 losses.BinaryCrossentropy, losses.CategoricalCrossentropy,
                                 losses.SparseCategoricalCrossentropy, losses.Huber,
                                 losses.KLDivergence])
def test_every_loss_class_round_trips_its_config(cls):
    loss = cls(reduction="sum")
    clone = cls.from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()
    assert clone.reduction == "sum"


def test_gradient_of_the_loss_matches_finite_differences():
    labels = np.array([0, 2, 1])
    z0 = logits(3, 4)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    z = gk.ops.convert_to_tensor(z0)
    with gk.GradientTape() as tape:
        tape.watch(z)
        value = loss(labels, z)
    grad = tape.gradient(value, z).numpy()
    # d/dz of mean CE = (softmax - onehot) / n
    np.testing.assert_allclose(grad, (softmax(z0) - np.eye(4)[labels]) / 3, rtol=1e-8,
                               atol=1e-12)


def test_mean_squared_error_is_keras_bit_for_bit_and_its_gradient():
    # The loss squares y_pred - y_true (no negation in the backward pass): the values must
    # stay those of Keras's square(y_true - y_pred) exactly.
    rng = np.random.default_rng(3)
    t = rng.uniform(size=(8, 40)).astype("float32")
    p = rng.uniform(size=(8, 40)).astype("float32")
    got = losses.mean_squared_error(t, p).numpy()
    want = np.mean(np.square(t - p), axis=-1, dtype="float32")
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_array_equal(
        got, ops.mean(ops.square(ops.subtract(t, p)), axis=-1).numpy())
    with gk.GradientTape() as tape:
        pt = ops.convert_to_tensor(p)
        tape.watch(pt)
        loss = ops.mean(losses.mean_squared_error(t, pt))
    np.testing.assert_allclose(tape.gradient(loss, pt).numpy(), 2 * (p - t) / p.size,
                               rtol=1e-5, atol=1e-9)
