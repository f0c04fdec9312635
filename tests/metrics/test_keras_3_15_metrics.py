"""Keras 3.15 metrics: the rate-at-rate threshold metrics (PrecisionAtRecall, ...), the
concordance correlation, and the loss functions keras.metrics re-exports, against NumPy
float64 formulas; accumulation, reset, configs, names, and a compiled fit."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import losses, metrics
from tests.losses.helpers import fit_logs

RNG = np.random.default_rng(7)
N, C = 30, 3
Y_TRUE = RNG.integers(0, 2, (N, C)).astype(np.float32)
# Noisy scores that lean toward the labels, with values exactly on the grid's end points.
Y_PRED = np.clip(0.35 * Y_TRUE + RNG.uniform(0, 0.65, (N, C)), 0, 1).astype(np.float32)
Y_PRED[0, 0], Y_PRED[1, 1], Y_PRED[2, 2] = 0.0, 1.0, 0.5
WEIGHTS = RNG.uniform(0.2, 2.0, N).astype(np.float32)
BATCHES = [slice(0, 10), slice(10, 20), slice(20, 30)]


def keras_thresholds(n):
    return np.array([0.5]) if n == 1 else np.linspace(0.0, 1.0, n)


def ref_rate_at_rate(constrained, dependent, value, num_thresholds, class_id, weights):
    """Weighted counts per threshold (positive: prediction > threshold), then the best
    `dependent` rate where the `constrained` one is >= value."""
    t, p = Y_TRUE.astype(np.float64), Y_PRED.astype(np.float64)
    w = np.broadcast_to(weights[:, None], t.shape)
    if class_id is not None:
        t, p, w = t[:, class_id], p[:, class_id], w[:, class_id]
    t, p, w = t.ravel(), p.ravel(), w.ravel()
    above = p[None, :] > keras_thresholds(num_thresholds)[:, None]
    tp = (above * (t == 1) * w).sum(1)
    fp = (above * (t == 0) * w).sum(1)
    tn = (~above * (t == 0) * w).sum(1)
    fn = (~above * (t == 1) * w).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = {"recall": np.nan_to_num(tp / (tp + fn)),
                 "precision": np.nan_to_num(tp / (tp + fp)),
                 "specificity": np.nan_to_num(tn / (tn + fp))}
    return np.max(np.where(rates[constrained] >= value, rates[dependent], 0.0))


RATE_METRICS = [  # class, constrained rate, dependent rate, target value
    (metrics.PrecisionAtRecall, "recall", "precision", 0.6),
    (metrics.RecallAtPrecision, "precision", "recall", 0.6),
    (metrics.SensitivityAtSpecificity, "specificity", "recall", 0.5),
    (metrics.SpecificityAtSensitivity, "recall", "specificity", 0.8),
]
RATE_IDS = [c[0].__name__ for c in RATE_METRICS]


def weights_of_batch(i, batch):
    # The middle batch goes unweighted, to mix weighted and unweighted updates.
    return None if i == 1 else WEIGHTS[batch]


def all_weights():
    return np.concatenate([np.ones(10, np.float32) if i == 1 else WEIGHTS[b]
                           for i, b in enumerate(BATCHES)]).astype(np.float64)


@pytest.mark.parametrize("kwargs", [{}, {"class_id": 1}, {"num_thresholds": 7},
                                    {"num_thresholds": 1}], ids=str)
@pytest.mark.parametrize("cls,constrained,dependent,value", RATE_METRICS, ids=RATE_IDS)
def test_rate_at_rate_over_weighted_batches(cls, constrained, dependent, value, kwargs):
    m = cls(value, **kwargs)
    for i, batch in enumerate(BATCHES):
        m.update_state(Y_TRUE[batch], Y_PRED[batch], sample_weight=weights_of_batch(i, batch))
    expected = ref_rate_at_rate(constrained, dependent, value,
                                kwargs.get("num_thresholds", 200), kwargs.get("class_id"),
                                all_weights())
    np.testing.assert_allclose(float(m.result()), expected, rtol=1e-5, atol=1e-6)
    m.reset_state()
    assert float(m.result()) == 0.0
    m.update_state(Y_TRUE[:10], Y_PRED[:10])
    fresh = cls(value, **kwargs)
    fresh.update_state(Y_TRUE[:10], Y_PRED[:10])
    assert float(m.result()) == float(fresh.result())


def test_the_references_are_not_trivial():
    # Guards the test above: the targets chosen give distinct, non-zero answers.
    got = [ref_rate_at_rate(c, d, v, 200, None, all_weights()) for _, c, d, v in RATE_METRICS]
    assert all(0.0 < g < 1.0 for g in got) and len(set(got)) == len(got)


def test_unreachable_constraint_gives_zero_and_perfect_scores_give_one():
    m = metrics.RecallAtPrecision(1.0)
    m.update_state([1, 0, 1, 0], [0.2, 0.9, 0.3, 0.8])  # every positive ranked below
    assert float(m.result()) == 0.0
    m = metrics.SensitivityAtSpecificity(1.0)
    m.update_state([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.2])
    assert float(m.result()) == 1.0


@pytest.mark.parametrize("cls,constrained,dependent,value", RATE_METRICS, ids=RATE_IDS)
def test_rate_at_rate_configs_and_errors(cls, constrained, dependent, value):
    argument = {metrics.PrecisionAtRecall: "recall", metrics.RecallAtPrecision: "precision",
                metrics.SensitivityAtSpecificity: "specificity",
                metrics.SpecificityAtSensitivity: "sensitivity"}[cls]
    m = cls(value, num_thresholds=50, class_id=2, name="m")
    config = m.get_config()
    assert config == {"name": "m", "dtype": "float32", "class_id": 2, "num_thresholds": 50,
                      argument: value}
    assert getattr(m, argument) == value and m._direction == "up"
    assert cls.from_config(config).get_config() == config
    assert metrics.deserialize(metrics.serialize(m)).get_config() == config
    with pytest.raises(ValueError, match=f"`{argument}` must be in the range"):
        cls(1.5)
    with pytest.raises(ValueError, match="num_thresholds"):
        cls(value, num_thresholds=0)


# -- concordance correlation ---------------------------------------------------------------

REG_T = RNG.normal(size=(N, 5))
REG_P = 0.8 * REG_T + RNG.normal(0.3, 0.6, (N, 5))


def ref_concordance(t, p):
    """Keras's formula: the covariance term centres y_true at the prediction mean."""
    tm, pm = t.mean(-1, keepdims=True), p.mean(-1, keepdims=True)
    norm = t.var(-1, keepdims=True) + p.var(-1, keepdims=True) + (tm - pm) ** 2
    return np.mean(2 * (t - pm) * (p - pm) / (norm + 1e-7), -1)


def test_concordance_correlation_function():
    got = metrics.concordance_correlation(REG_T.astype(np.float32), REG_P.astype(np.float32))
    np.testing.assert_allclose(got.numpy(), ref_concordance(REG_T, REG_P), rtol=1e-5,
                               atol=1e-6)
    # identical inputs agree perfectly
    same = metrics.concordance_correlation(REG_T.astype(np.float32), REG_T.astype(np.float32))
    np.testing.assert_allclose(same.numpy(), 1.0, rtol=1e-5)


def test_concordance_correlation_metric_over_weighted_batches():
    m = metrics.ConcordanceCorrelation()
    for i, batch in enumerate(BATCHES):
        m.update_state(REG_T[batch].astype(np.float32), REG_P[batch].astype(np.float32),
                       sample_weight=weights_of_batch(i, batch))
    w = all_weights()
    expected = np.sum(w * ref_concordance(REG_T, REG_P)) / w.sum()
    np.testing.assert_allclose(float(m.result()), expected, rtol=1e-5)
    m.reset_state()
    assert float(m.result()) == 0.0
    config = metrics.ConcordanceCorrelation(name="c", axis=-1).get_config()
    assert config == {"name": "c", "dtype": "float32", "axis": -1}
    assert metrics.deserialize(metrics.serialize(
        metrics.ConcordanceCorrelation.from_config(config))).get_config() == config
    assert m._direction == "up"


# -- names ---------------------------------------------------------------------------------

def test_string_names_follow_keras():
    assert type(metrics.get("concordance_correlation")) is metrics.ConcordanceCorrelation
    assert type(metrics.get("ConcordanceCorrelation")) is metrics.ConcordanceCorrelation
    config = {"class_name": "PrecisionAtRecall", "config": {"recall": 0.3}}
    assert type(metrics.get(config)) is metrics.PrecisionAtRecall
    # keras.metrics re-exports these loss functions, but not as string names
    assert metrics.huber is losses.huber
    assert metrics.binary_focal_crossentropy is losses.binary_focal_crossentropy
    assert metrics.categorical_focal_crossentropy is losses.categorical_focal_crossentropy
    with pytest.raises(ValueError):
        metrics.get("binary_focal_crossentropy")


def test_reexported_loss_functions_compute_the_losses():
    t, p = REG_T[:4], REG_P[:4]
    err = np.abs(p - t)
    huber = np.where(err <= 0.7, 0.5 * err ** 2, 0.7 * err - 0.5 * 0.49).mean(-1)
    np.testing.assert_allclose(metrics.huber(t.astype(np.float32), p.astype(np.float32),
                                             delta=0.7).numpy(), huber, rtol=1e-5)
    y, s = Y_TRUE[:4].astype(np.float64), np.clip(Y_PRED[:4], 0.05, 0.95).astype(np.float64)
    p_t = y * s + (1 - y) * (1 - s)
    focal = np.mean((1 - p_t) ** 2 * -np.log(p_t), -1)
    np.testing.assert_allclose(metrics.binary_focal_crossentropy(
        Y_TRUE[:4], s.astype(np.float32)).numpy(), focal, rtol=1e-5)


def test_compile_by_object_and_by_name():
    model = gk.Sequential([gk.Input((5,)), gk.layers.Dense(5)])
    model.compile(loss="mse", metrics=["concordance_correlation",
                                       metrics.PrecisionAtRecall(0.5, name="par")])
    x = REG_T.astype(np.float32)
    y = (REG_P > 0).astype(np.float32)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    model_out = model.predict(x, verbose=0)
    par = metrics.PrecisionAtRecall(0.5)
    par.update_state(y, model_out)
    np.testing.assert_allclose(logs["par"], float(par.result()), rtol=1e-5)
    ccc = np.mean(ref_concordance(y.astype(np.float64), model_out.astype(np.float64)))
    np.testing.assert_allclose(logs["concordance_correlation"], ccc, rtol=1e-4, atol=1e-5)


# -- training ------------------------------------------------------------------------------

def new_metrics():
    return [metrics.PrecisionAtRecall(0.5, name="par"),
            metrics.SensitivityAtSpecificity(0.5, class_id=1, name="sas"),
            metrics.RecallAtPrecision(0.6, num_thresholds=20, name="rap"),
            metrics.SpecificityAtSensitivity(0.7, name="sps"), "concordance_correlation"]


def test_compiled_fit_gives_the_eager_logs():
    eager = fit_logs("binary_crossentropy", new_metrics(), jit_compile=False)
    compiled = fit_logs("binary_crossentropy", new_metrics(), jit_compile=True)
    assert set(compiled) == set(eager)
    assert {"par", "sas", "rap", "sps", "val_concordance_correlation"} <= set(eager)
    for key in eager:
        assert np.all(np.isfinite(eager[key])), key
        np.testing.assert_allclose(compiled[key], eager[key], rtol=1e-5, atol=1e-5)
    assert eager["par"][-1] > 0.0
