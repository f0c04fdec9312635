"""Metrics against NumPy float64: accumulation over batches, sample weights, reset."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import metrics

RNG = np.random.default_rng(2)


def test_mean_and_sum_with_weights_over_two_batches():
    m = metrics.Mean(dtype="float64")
    s = metrics.Sum(dtype="float64")
    a, wa = np.array([1.0, 3.0, 5.0, 7.0]), np.array([1.0, 1.0, 0.0, 0.0])
    b = np.array([[2.0, 4.0], [6.0, 8.0]])
    m.update_state(a, sample_weight=wa)
    m.update_state(b)  # per-sample means 3 and 7, unweighted
    np.testing.assert_allclose(float(m.result()), (1 + 3 + 3 + 7) / 4)
    s.update_state(a, sample_weight=wa)
    s.update_state(b)
    np.testing.assert_allclose(float(s.result()), 4 + 20)
    m.reset_state()
    assert float(m.result()) == 0.0
    assert [v.name for v in m.variables] == ["total", "count"]
    assert all(not v.trainable for v in m.variables)


def test_mean_of_a_scalar_and_call_returns_the_result():
    m = metrics.Mean()
    assert float(m(2.0)) == 2.0
    assert float(m(4.0)) == 3.0


def test_regression_metrics():
    t, p = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 3))
    w = RNG.uniform(size=6)
    mse = metrics.MeanSquaredError(dtype="float64")
    mse.update_state(t[:3], p[:3], sample_weight=w[:3])
    mse.update_state(t[3:], p[3:], sample_weight=w[3:])
    per = ((t - p) ** 2).mean(-1)
    np.testing.assert_allclose(float(mse.result()), (per * w).sum() / w.sum(), rtol=1e-12)
    mae = metrics.MeanAbsoluteError(dtype="float64")
    mae.update_state(t, p)
    np.testing.assert_allclose(float(mae.result()), np.abs(t - p).mean(), rtol=1e-12)


def test_accuracy_variants():
    acc = metrics.Accuracy()
    acc.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    assert float(acc.result()) == pytest.approx(0.75)

    bin_acc = metrics.BinaryAccuracy(threshold=0.6)
    bin_acc.update_state([[1], [1], [0], [0]], [[0.98], [0.5], [0.1], [0.7]])
    assert float(bin_acc.result()) == pytest.approx(0.5)

    y = RNG.integers(0, 5, size=40)
    p = RNG.normal(size=(40, 5))
    p[:20, :] += 3 * np.eye(5)[y[:20]]  # make half clearly right
    want = (p.argmax(-1) == y).mean()
    cat = metrics.CategoricalAccuracy()
    cat.update_state(np.eye(5)[y], p)
    sparse = metrics.SparseCategoricalAccuracy()
    sparse.update_state(y[:25], p[:25])
    sparse.update_state(y[25:, None], p[25:])  # labels of shape (n, 1) too
    assert float(cat.result()) == pytest.approx(want)
    assert float(sparse.result()) == pytest.approx(want)


def test_sparse_categorical_accuracy_with_sample_weight():
    y = np.array([0, 1, 2, 1])
    p = np.array([[0.9, 0.1, 0], [0.2, 0.7, 0.1], [0.5, 0.3, 0.2], [0.6, 0.3, 0.1]])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(y, p, sample_weight=w)
    assert float(m.result()) == pytest.approx((1 + 2) / 10)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_categorical_accuracy(k):
    y = RNG.integers(0, 6, size=30)
    p = RNG.normal(size=(30, 6))
    rank = (p > p[np.arange(30), y][:, None]).sum(-1)
    want = (rank < k).mean()
    m = metrics.TopKCategoricalAccuracy(k=k)
    m.update_state(np.eye(6)[y], p)
    assert float(m.result()) == pytest.approx(want)


def _counts(y, p, threshold, w=None):
    w = np.ones_like(p) if w is None else w
    pos = p > threshold
    lab = y != 0
    return ((lab & pos) * w).sum(), ((~lab & pos) * w).sum(), ((lab & ~pos) * w).sum()


def test_precision_and_recall_single_and_multiple_thresholds():
    y = RNG.integers(0, 2, size=50)
    p = RNG.uniform(size=50)
    w = RNG.uniform(size=50)
    for thresholds in (None, [0.3, 0.5, 0.8]):
        pr = metrics.Precision(thresholds=thresholds)
        rc = metrics.Recall(thresholds=thresholds)
        pr.update_state(y[:20], p[:20], sample_weight=w[:20])
        pr.update_state(y[20:], p[20:], sample_weight=w[20:])
        rc.update_state(y, p, sample_weight=w)
        ts = [0.5] if thresholds is None else thresholds
        want_p, want_r = [], []
        for t in ts:
            tp, fp, fn = _counts(y, p, t, w)
            want_p.append(tp / (tp + fp))
            want_r.append(tp / (tp + fn))
        got_p, got_r = np.asarray(pr.result()), np.asarray(rc.result())
        assert got_p.shape == (() if thresholds is None else (3,))
        np.testing.assert_allclose(got_p, np.squeeze(want_p), rtol=1e-5)
        np.testing.assert_allclose(got_r, np.squeeze(want_r), rtol=1e-5)


def test_precision_top_k_and_class_id():
    y = np.array([[0, 0, 1, 1]])
    p = np.array([[1.0, 0.9, 0.8, 0.7]])
    m = metrics.Precision(top_k=2)
    m.update_state(y, p)
    assert float(m.result()) == 0.0
    m4 = metrics.Precision(top_k=4)
    m4.update_state(y, p)
    assert float(m4.result()) == pytest.approx(0.5)
    r = metrics.Recall(class_id=2)
    r.update_state(np.array([[0, 0, 1], [0, 0, 1]]), np.array([[0, 0, 0.9], [0, 0, 0.2]]))
    assert float(r.result()) == pytest.approx(0.5)


def test_precision_with_nothing_predicted_positive_is_zero_not_nan():
    m = metrics.Precision()
    m.update_state([1, 0], [0.1, 0.2])
    assert float(m.result()) == 0.0


def _roc_auc_reference(y, p, num_thresholds):
    eps = 1e-7
    ts = [0 - eps] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] \
        + [1 + eps]
    tpr, fpr = [], []
    for t in ts:
        pos = p > t
        tp, fp = np.sum(pos & (y == 1)), np.sum(pos & (y == 0))
        fn, tn = np.sum(~pos & (y == 1)), np.sum(~pos & (y == 0))
        tpr.append(tp / (tp + fn) if tp + fn else 0)
        fpr.append(fp / (fp + tn) if fp + tn else 0)
    tpr, fpr = np.array(tpr), np.array(fpr)
    return np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2)


def test_auc_keras_docstring_example_and_reference():
    m = metrics.AUC(num_thresholds=3)
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert float(m.result()) == pytest.approx(0.75)
    m.reset_state()
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])
    assert float(m.result()) == pytest.approx(1.0)

    y = RNG.integers(0, 2, size=200)
    p = np.clip(0.3 * y + RNG.uniform(size=200) * 0.7, 0, 1)
    m = metrics.AUC(num_thresholds=50)
    m.update_state(y[:100], p[:100])
    m.update_state(y[100:], p[100:])
    assert float(m.result()) == pytest.approx(_roc_auc_reference(y, p, 50), rel=1e-5)


def test_auc_pr_and_summation_methods_and_logits():
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.1, 0.6, 0.35, 0.8, 0.7, 0.2])
    minor = metrics.AUC(num_thresholds=10, summation_method="minoring")
    major = metrics.AUC(num_thresholds=10, summation_method="majoring")
    interp = metrics.AUC(num_thresholds=10)
    for m in (minor, major, interp):
        m.update_state(y, p)
    assert float(minor.result()) <= float(interp.result()) <= float(major.result())
    pr = metrics.AUC(curve="PR", num_thresholds=200)
    pr.update_state(y, p)
    assert 0.5 < float(pr.result()) <= 1.0
    logit = metrics.AUC(num_thresholds=10, from_logits=True)
    logit.update_state(y, np.log(p / (1 - p)))
    assert float(logit.result()) == pytest.approx(float(interp.result()), rel=1e-6)
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="XYZ")


def test_auc_multi_label_averages_label_aucs():
    y = RNG.integers(0, 2, size=(60, 2))
    p = np.clip(0.4 * y + RNG.uniform(size=(60, 2)) * 0.6, 0, 1)
    m = metrics.AUC(num_thresholds=20, multi_label=True)
    m.update_state(y, p)
    want = np.mean([_roc_auc_reference(y[:, i], p[:, i], 20) for i in range(2)])
    assert float(m.result()) == pytest.approx(want, rel=1e-5)


def test_stateless_update_and_result_do_not_touch_the_variables():
    m = metrics.Mean(dtype="float64")
    state = [v.value for v in m.variables]
    state = m.stateless_update_state(state, np.array([2.0, 4.0]))
    assert float(m.result()) == 0.0
    assert float(m.stateless_result(state)) == 3.0
    zeros = m.stateless_reset_state()
    assert [float(z) for z in zeros] == [0.0, 0.0]


def test_custom_metric_subclass_with_a_sub_metric():
    class Twice(metrics.Metric):
        def __init__(self):
            super().__init__(name="twice")
            self.inner = metrics.Mean(name="inner")

        def update_state(self, values):
            self.inner.update_state(values)

        def result(self):
            return gk.ops.multiply(self.inner.result(), 2.0)

    m = Twice()
    m.update_state([1.0, 2.0])
    assert float(m.result()) == 3.0
    assert [v.path for v in m.variables] == ["inner/total", "inner/count"]
    m.reset_state()
    assert float(m.result()) == 0.0


@pytest.mark.parametrize("cls", [metrics.Mean, metrics.Sum, metrics.MeanSquaredError,
                                 metrics.Accuracy, metrics.BinaryAccuracy,
                                 metrics.SparseCategoricalAccuracy,
                                 metrics.TopKCategoricalAccuracy, metrics.AUC,
                                 metrics.Precision, metrics.Recall])
def test_config_round_trip(cls):
    m = cls(name="m")
    config = m.get_config()
    assert config["name"] == "m"
    assert cls.from_config(config).get_config() == config
    assert metrics.deserialize(metrics.serialize(m)).get_config() == config


def test_get_by_name():
    assert isinstance(metrics.get("AUC"), metrics.AUC)
    assert isinstance(metrics.get("auc"), metrics.AUC)
    assert metrics.get("accuracy") is metrics.accuracy
    with pytest.raises(ValueError, match="Did you mean"):
        metrics.get("acuracy")


@pytest.mark.parametrize("shape", [(6,), (6, 1)])
def test_precision_recall_class_id_with_sample_weight(shape):
    rng = np.random.default_rng(5)
    y_pred = rng.uniform(size=(6, 3))
    y_true = np.eye(3)[rng.integers(0, 3, 6)]
    w = rng.uniform(0.5, 2.0, 6)
    pred_pos, label_pos = y_pred[:, 1] > 0.5, y_true[:, 1] != 0
    tp = np.sum(w * (pred_pos & label_pos))
    for cls, other in ((metrics.Precision, pred_pos), (metrics.Recall, label_pos)):
        m = cls(class_id=1, dtype="float64")
        m.update_state(y_true, y_pred, sample_weight=w.reshape(shape))
        np.testing.assert_allclose(float(m.result()), tp / np.sum(w * other), rtol=1e-12)
