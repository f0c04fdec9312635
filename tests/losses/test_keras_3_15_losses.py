"""Keras 3.15 losses: CategoricalGeneralizedCrossEntropy and Circle against NumPy float64
formulas, their configs and names, and a compiled fit against the eager one."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import losses

RNG = np.random.default_rng(5)
N, C, D = 12, 4, 6
LABELS = RNG.integers(0, C, N)
PROBS = RNG.dirichlet(np.ones(C), N)
WEIGHTS = RNG.uniform(0.2, 2.0, N)
EMB = RNG.normal(size=(N, D))
EMB /= np.linalg.norm(EMB, axis=1, keepdims=True)
# Label 9 appears once: that row has no positive pair, so Keras masks it out of the mean.
CIRCLE_LABELS = np.array([0, 0, 1, 1, 2, 2, 9, 0, 1, 2, 0, 1])


def f32(x):
    return np.asarray(x, np.float32)


def ref_gce(labels, probs, q):
    p = probs[np.arange(len(labels)), labels]
    return (1 - p ** q) / q


def logsumexp(x, mask):
    x = np.where(mask, x, -np.inf)
    m = np.max(x, 1, keepdims=True)
    with np.errstate(invalid="ignore"):
        return (m + np.log(np.sum(np.exp(x - m), 1, keepdims=True)))[:, 0]


def ref_circle(labels, emb, ref_labels=None, ref_emb=None, gamma=80.0, margin=0.4,
               remove_diagonal=True):
    """Per-row circle loss, and the Keras mask (rows without positives or negatives)."""
    ref_labels = labels if ref_labels is None else ref_labels
    ref_emb = emb if ref_emb is None else ref_emb
    dist = np.maximum(1 - emb @ ref_emb.T, 0)
    pos = labels[:, None] == ref_labels[None, :]
    neg = ~pos
    if remove_diagonal:
        pos &= ~np.eye(len(labels), len(ref_labels), dtype=bool)
    alpha_p = np.maximum((margin + dist) * pos, 0)
    alpha_n = np.maximum((1 + margin - dist) * neg, 0)
    logit_p = -gamma * alpha_p * (margin - dist)
    logit_n = gamma * alpha_n * (1 - margin - dist)
    valid = pos.any(1) & neg.any(1)
    total = np.where(valid, logsumexp(logit_p, pos) + logsumexp(logit_n, neg), 0.0)
    return np.where(valid, np.logaddexp(0, total), 0.0), valid


@pytest.mark.parametrize("q", [0.3, 0.5, 0.9])
def test_generalized_cross_entropy(q):
    got = losses.categorical_generalized_cross_entropy(LABELS, f32(PROBS), q=q)
    np.testing.assert_allclose(got.numpy(), ref_gce(LABELS, PROBS, q), rtol=1e-5)
    loss = losses.CategoricalGeneralizedCrossEntropy(q=q)
    expected = np.mean(WEIGHTS * ref_gce(LABELS, PROBS, q))
    np.testing.assert_allclose(float(loss(LABELS, f32(PROBS), sample_weight=f32(WEIGHTS))),
                               expected, rtol=1e-5)


def test_generalized_cross_entropy_config_and_errors():
    loss = losses.CategoricalGeneralizedCrossEntropy(q=0.25, reduction="sum", name="g")
    config = loss.get_config()
    assert config == {"name": "g", "reduction": "sum", "q": 0.25}
    assert losses.deserialize(losses.serialize(loss)).get_config() == config
    assert losses.CategoricalGeneralizedCrossEntropy().get_config()["name"] == \
        "categorical_generalized_cross_entropy"
    for q in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="interval \\(0, 1\\)"):
            losses.CategoricalGeneralizedCrossEntropy(q=q)


@pytest.mark.parametrize("kwargs", [{}, {"gamma": 10.0, "margin": 0.25},
                                    {"gamma": 5.0, "remove_diagonal": False}], ids=str)
def test_circle_function(kwargs):
    got = losses.circle(CIRCLE_LABELS, f32(EMB), **kwargs)
    expected, valid = ref_circle(CIRCLE_LABELS, EMB, **kwargs)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(got._keras_mask.numpy(), valid)
    assert not valid.all() or not kwargs.get("remove_diagonal", True)


def test_circle_with_reference_embeddings():
    got = losses.circle(CIRCLE_LABELS[:6], f32(EMB[:6]), ref_labels=CIRCLE_LABELS[6:],
                        ref_embeddings=f32(EMB[6:]), gamma=5.0)
    expected, _ = ref_circle(CIRCLE_LABELS[:6], EMB[:6], CIRCLE_LABELS[6:], EMB[6:],
                             gamma=5.0)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_circle_class_masks_rows_without_pairs_out_of_the_mean():
    loss = losses.Circle(gamma=20.0)
    per_row, valid = ref_circle(CIRCLE_LABELS, EMB, gamma=20.0)
    got = float(loss(CIRCLE_LABELS, f32(EMB), sample_weight=f32(WEIGHTS)))
    # the mask rescales the valid rows so the mean runs over them only
    expected = np.sum(WEIGHTS * per_row * valid) / valid.sum()
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert not np.isclose(expected, np.mean(WEIGHTS * per_row))


def test_circle_config_and_names():
    loss = losses.Circle(gamma=30.0, margin=0.2, remove_diagonal=False, name="c")
    config = loss.get_config()
    assert config == {"name": "c", "reduction": "sum_over_batch_size", "gamma": 30.0,
                      "margin": 0.2, "remove_diagonal": False}
    assert losses.deserialize(losses.serialize(loss)).get_config() == config
    assert losses.get("circle") is losses.circle
    assert type(losses.get("Circle")) is losses.Circle
    assert losses.get("categorical_generalized_cross_entropy") is \
        losses.categorical_generalized_cross_entropy
    assert type(losses.get("CategoricalGeneralizedCrossEntropy")) is \
        losses.CategoricalGeneralizedCrossEntropy


# -- training ------------------------------------------------------------------------------

def fit_history(loss, jit_compile, softmax):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(48, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0).astype("int32")
    gk.utils.set_random_seed(0)
    last = (gk.layers.Dense(3, activation="softmax") if softmax else
            gk.layers.UnitNormalization())
    layers = [gk.Input((5,)), gk.layers.Dense(8, activation="tanh")]
    layers += [last] if softmax else [gk.layers.Dense(4), last]
    model = gk.Sequential(layers)
    model.compile(optimizer=gk.optimizers.Adam(0.01), loss=loss,
                  metrics=["sparse_categorical_accuracy"] if softmax else [],
                  jit_compile=jit_compile, run_eagerly=not jit_compile)
    return model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                     validation_data=(x[:16], y[:16])).history


@pytest.mark.parametrize("loss,softmax", [
    (lambda: losses.CategoricalGeneralizedCrossEntropy(q=0.6), True),
    (lambda: losses.Circle(gamma=16.0), False)], ids=["gce", "circle"])
def test_compiled_fit_gives_the_eager_logs(loss, softmax):
    eager = fit_history(loss(), False, softmax)
    compiled = fit_history(loss(), True, softmax)
    assert set(compiled) == set(eager) >= {"loss", "val_loss"}
    for key in eager:
        assert np.all(np.isfinite(eager[key])), key
        np.testing.assert_allclose(compiled[key], eager[key], rtol=1e-5, atol=1e-5)
    assert eager["loss"][-1] < eager["loss"][0]  # it trains
