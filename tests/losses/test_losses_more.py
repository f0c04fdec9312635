"""The Keras losses beyond the basic ones (hinges, log-cosh, MAPE, MSLE, Poisson, cosine,
focal cross-entropies, Dice, Tversky) against NumPy float64 formulas: per-sample values,
label conversions, reductions, sample weights, configs, names, gradients, compiled fit."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import losses
from tests.losses.helpers import fit_logs

RNG = np.random.default_rng(11)
EPS = 1e-7


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# -- per-sample references (float64) ---------------------------------------------------------

def ref_mape(t, p):
    return 100 * np.mean(np.abs((t - p) / np.maximum(np.abs(t), EPS)), -1)


def ref_msle(t, p):
    return np.mean((np.log1p(np.maximum(p, EPS)) - np.log1p(np.maximum(t, EPS))) ** 2, -1)


def ref_cosine(t, p, axis=-1):
    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), EPS)
    return -np.sum(unit(t) * unit(p), axis=axis)


def ref_log_cosh(t, p):
    return np.mean(np.log(np.cosh(p - t)), -1)


def ref_poisson(t, p):
    return np.mean(p - t * np.log(p + EPS), -1)


def hinge_labels(t):
    return 2 * t - 1 if np.all((t == 0) | (t == 1)) else t


def ref_hinge(t, p):
    return np.mean(np.maximum(1 - hinge_labels(t) * p, 0), -1)


def ref_squared_hinge(t, p):
    return np.mean(np.maximum(1 - hinge_labels(t) * p, 0) ** 2, -1)


def ref_categorical_hinge(t, p):
    return np.maximum(np.max((1 - t) * p, -1) - np.sum(t * p, -1) + 1, 0)


def ref_binary_focal(t, p, balance=False, alpha=0.25, gamma=2.0, from_logits=False,
                     smoothing=0.0):
    t = t * (1 - smoothing) + 0.5 * smoothing
    p = sigmoid(p) if from_logits else p
    clipped = np.clip(p, EPS, 1 - EPS)
    bce = -(t * np.log(clipped) + (1 - t) * np.log(1 - clipped))
    p_t = t * p + (1 - t) * (1 - p)
    focal = (1 - p_t) ** gamma * bce
    if balance:
        focal = (t * alpha + (1 - t) * (1 - alpha)) * focal
    return focal.mean(-1)


def ref_categorical_focal(t, p, alpha=0.25, gamma=2.0, from_logits=False, smoothing=0.0):
    t = t * (1 - smoothing) + smoothing / t.shape[-1]
    p = softmax(p) if from_logits else p
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return np.sum(alpha * (1 - p) ** gamma * -t * np.log(p), -1)


def ref_dice(t, p, axis=None):
    return 1 - 2 * np.sum(t * p, axis) / (np.sum(t, axis) + np.sum(p, axis) + EPS)


def ref_tversky(t, p, alpha=0.5, beta=0.5, axis=None):
    tp = np.sum(t * p, axis)
    fp = np.sum((1 - p) * t, axis)
    fn = np.sum(p * (1 - t), axis)
    return 1 - tp / (tp + alpha * fp + beta * fn + EPS)


# -- data --------------------------------------------------------------------------------------

N, C = 6, 4
REG_T = RNG.uniform(0.1, 3.0, (N, C))
REG_P = RNG.normal(1.0, 1.0, (N, C))
BIN_T = RNG.integers(0, 2, (N, C)).astype(float)
PROBS = RNG.uniform(0.05, 0.95, (N, C))
LOGITS = RNG.normal(size=(N, C))
ONE_HOT = np.eye(C)[RNG.integers(0, C, N)]
W = RNG.uniform(0.2, 2.0, N)

# (class, constructor kwargs, reference, reference kwargs, y_true, y_pred)
CASES = {
    "mape": (losses.MeanAbsolutePercentageError, {}, ref_mape, {}, REG_T, REG_P),
    "msle": (losses.MeanSquaredLogarithmicError, {}, ref_msle, {}, REG_T, REG_P),
    "cosine": (losses.CosineSimilarity, {}, ref_cosine, {}, REG_T, REG_P),
    "log_cosh": (losses.LogCosh, {}, ref_log_cosh, {}, REG_T, REG_P),
    "poisson": (losses.Poisson, {}, ref_poisson, {}, REG_T, np.abs(REG_P)),
    "hinge": (losses.Hinge, {}, ref_hinge, {}, BIN_T, LOGITS),
    "squared_hinge": (losses.SquaredHinge, {}, ref_squared_hinge, {}, BIN_T, LOGITS),
    "categorical_hinge": (losses.CategoricalHinge, {}, ref_categorical_hinge, {}, ONE_HOT,
                          LOGITS),
    "binary_focal": (losses.BinaryFocalCrossentropy, {}, ref_binary_focal, {}, BIN_T, PROBS),
    "binary_focal_options": (
        losses.BinaryFocalCrossentropy,
        dict(apply_class_balancing=True, alpha=0.3, gamma=1.5, from_logits=True,
             label_smoothing=0.1),
        ref_binary_focal, dict(balance=True, alpha=0.3, gamma=1.5, from_logits=True,
                               smoothing=0.1), BIN_T, LOGITS),
    "categorical_focal": (losses.CategoricalFocalCrossentropy, {}, ref_categorical_focal, {},
                          ONE_HOT, softmax(LOGITS)),
    "categorical_focal_options": (
        losses.CategoricalFocalCrossentropy,
        dict(alpha=0.4, gamma=3.0, from_logits=True, label_smoothing=0.2),
        ref_categorical_focal, dict(alpha=0.4, gamma=3.0, from_logits=True, smoothing=0.2),
        ONE_HOT, LOGITS),
    "dice_per_sample": (losses.Dice, dict(axis=1), ref_dice, dict(axis=1), BIN_T, PROBS),
    "tversky_per_sample": (losses.Tversky, dict(alpha=0.3, beta=0.7, axis=1), ref_tversky,
                           dict(alpha=0.3, beta=0.7, axis=1), BIN_T, PROBS),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_per_sample_values_match_the_float64_formula(case):
    cls, kwargs, ref, ref_kwargs, t, p = CASES[case]
    got = cls(reduction="none", dtype="float64", **kwargs)(t, p)
    np.testing.assert_allclose(got.numpy(), ref(t, p, **ref_kwargs), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean", "sum", "none"])
def test_reductions_with_sample_weight(case, reduction):
    cls, kwargs, ref, ref_kwargs, t, p = CASES[case]
    weighted = ref(t, p, **ref_kwargs) * W
    want = {"sum_over_batch_size": weighted.mean(), "mean": weighted.mean(),
            "sum": weighted.sum(), "none": weighted}[reduction]
    got = cls(reduction=reduction, dtype="float64", **kwargs)(t, p, sample_weight=W)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-9, atol=1e-12)


def test_float32_default_dtype_gives_a_float32_scalar():
    got = losses.BinaryFocalCrossentropy()(BIN_T.astype("float32"), PROBS.astype("float32"))
    assert got.dtype == "float32" and got.shape == ()
    np.testing.assert_allclose(float(got), ref_binary_focal(BIN_T, PROBS).mean(), rtol=1e-5)


def test_dice_and_tversky_default_axis_reduce_the_whole_batch_to_one_value():
    dice = losses.Dice(dtype="float64")(BIN_T, PROBS)
    tversky = losses.Tversky(alpha=0.2, beta=0.8, dtype="float64")(BIN_T, PROBS)
    assert dice.shape == () and tversky.shape == ()
    np.testing.assert_allclose(float(dice), ref_dice(BIN_T, PROBS), rtol=1e-12)
    np.testing.assert_allclose(float(tversky), ref_tversky(BIN_T, PROBS, 0.2, 0.8),
                               rtol=1e-12)


def test_hinge_converts_zero_one_labels_and_keeps_other_labels():
    plus_minus = 2 * BIN_T - 1
    np.testing.assert_allclose(losses.hinge(BIN_T, LOGITS).numpy(),
                               losses.hinge(plus_minus, LOGITS).numpy(), rtol=1e-12)
    # Labels outside {0, 1} are used as they are, even the zeros among them.
    mixed = np.where(BIN_T > 0, 1.0, -1.0)
    mixed[0, 0] = 0.0
    want = np.mean(np.maximum(1 - mixed * LOGITS, 0), -1)
    np.testing.assert_allclose(losses.hinge(mixed, LOGITS).numpy(), want, rtol=1e-12)


def test_cosine_similarity_along_another_axis():
    got = losses.cosine_similarity(REG_T, REG_P, axis=0)
    np.testing.assert_allclose(got.numpy(), ref_cosine(REG_T, REG_P, axis=0), rtol=1e-12)


def test_log_cosh_does_not_overflow_for_large_errors():
    got = losses.log_cosh(np.zeros((1, 2)), np.array([[1000.0, -1000.0]]))
    np.testing.assert_allclose(got.numpy(), [1000 - np.log(2)], rtol=1e-12)


# -- configs and names -------------------------------------------------------------------------

# The config keys of each class, as Keras 3's get_config gives them.
CONFIG_KEYS = {
    losses.MeanAbsolutePercentageError: set(),
    losses.MeanSquaredLogarithmicError: set(),
    losses.CosineSimilarity: set(),  # Keras leaves `axis` out
    losses.LogCosh: set(),
    losses.Poisson: set(),
    losses.Hinge: set(),
    losses.SquaredHinge: set(),
    losses.CategoricalHinge: set(),
    losses.BinaryFocalCrossentropy: {"apply_class_balancing", "alpha", "gamma",
                                     "from_logits", "label_smoothing", "axis"},
    losses.CategoricalFocalCrossentropy: {"alpha", "gamma", "from_logits",
                                          "label_smoothing", "axis"},
    losses.Dice: {"axis"},
    losses.Tversky: {"alpha", "beta", "axis"},
}


@pytest.mark.parametrize("cls", list(CONFIG_KEYS), ids=lambda c: c.__name__)
def test_config_keys_are_keras_and_round_trip(cls):
    loss = cls(reduction="sum")
    config = loss.get_config()
    assert set(config) == {"name", "reduction"} | CONFIG_KEYS[cls]
    clone = losses.deserialize(losses.serialize(loss))
    assert type(clone) is cls and clone.get_config() == config


def test_arguments_survive_the_round_trip():
    loss = losses.Tversky(alpha=0.1, beta=0.9, axis=(1,), name="tv")
    clone = losses.Tversky.from_config(loss.get_config())
    assert (clone.alpha, clone.beta, clone.axis, clone.name) == (0.1, 0.9, (1,), "tv")
    focal = losses.CategoricalFocalCrossentropy(alpha=0.5, gamma=1.0, from_logits=True)
    t, p = ONE_HOT, LOGITS
    np.testing.assert_allclose(float(losses.deserialize(losses.serialize(focal))(t, p)),
                               float(focal(t, p)), rtol=1e-7)


@pytest.mark.parametrize("name,fn", [
    ("hinge", losses.hinge), ("squared_hinge", losses.squared_hinge),
    ("categorical_hinge", losses.categorical_hinge), ("log_cosh", losses.log_cosh),
    ("logcosh", losses.log_cosh), ("mape", losses.mean_absolute_percentage_error),
    ("MAPE", losses.mean_absolute_percentage_error),
    ("msle", losses.mean_squared_logarithmic_error), ("poisson", losses.poisson),
    ("cosine_similarity", losses.cosine_similarity), ("dice", losses.dice),
    ("tversky", losses.tversky), ("bce", losses.binary_crossentropy),
    ("binary_focal_crossentropy", losses.binary_focal_crossentropy),
    ("categorical_focal_crossentropy", losses.categorical_focal_crossentropy),
])
def test_function_names_give_the_functions(name, fn):
    assert losses.get(name) is fn
    assert losses.serialize(fn) in (name, fn.__name__)


def test_class_names_give_instances():
    for cls in CONFIG_KEYS:
        assert type(losses.get(cls.__name__)) is cls


# -- gradients ---------------------------------------------------------------------------------

def finite_difference_gradient(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


@pytest.mark.parametrize("loss,t,p", [
    (losses.LogCosh(dtype="float64"), REG_T, REG_P),
    (losses.CategoricalFocalCrossentropy(from_logits=True, dtype="float64"), ONE_HOT, LOGITS),
    (losses.BinaryFocalCrossentropy(apply_class_balancing=True, from_logits=True,
                                    dtype="float64"), BIN_T, LOGITS),
    (losses.Tversky(alpha=0.3, beta=0.7, dtype="float64"), BIN_T, PROBS),
], ids=["log_cosh", "categorical_focal", "binary_focal", "tversky"])
def test_gradient_matches_finite_differences(loss, t, p):
    x = gk.ops.convert_to_tensor(p)
    with gk.GradientTape() as tape:
        tape.watch(x)
        value = loss(t, x)
    grad = tape.gradient(value, x).numpy()
    want = finite_difference_gradient(lambda q: float(loss(t, q)), p)
    np.testing.assert_allclose(grad, want, rtol=1e-6, atol=1e-9)


# -- training ------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["hinge", "binary_focal_crossentropy", "dice"])
def test_compiled_fit_gives_the_eager_logs(loss):
    eager = fit_logs(loss, ["squared_hinge"], jit_compile=False)
    compiled = fit_logs(loss, ["squared_hinge"], jit_compile=True)
    assert set(compiled) == set(eager) == {"loss", "squared_hinge", "val_loss",
                                           "val_squared_hinge"}
    for key in eager:
        np.testing.assert_allclose(compiled[key], eager[key], rtol=1e-5, atol=1e-5)
