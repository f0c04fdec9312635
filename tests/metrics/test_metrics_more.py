"""The Keras metrics beyond the basic ones (cross-entropies, KL, Poisson, regression errors,
hinges, cosine similarity, R2, F-scores, Pearson correlation) against NumPy float64
formulas: accumulation over batches, sample weights, configs, names, directions, and a
compiled fit against the eager one."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import metrics
from tests.losses.helpers import fit_logs

RNG = np.random.default_rng(12)
EPS = 1e-7
N, C = 8, 3


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


REG_T = RNG.uniform(0.1, 3.0, (N, C))
REG_P = REG_T + RNG.normal(0.0, 0.5, (N, C))
BIN_T = RNG.integers(0, 2, (N, C)).astype(float)
LOGITS = RNG.normal(size=(N, C))
LABELS = RNG.integers(0, C, N)
ONE_HOT = np.eye(C)[LABELS]
W = RNG.uniform(0.2, 2.0, N)


def unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


def log_probs(z):
    return z - z.max(-1, keepdims=True) - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(
        -1, keepdims=True))


def hinge_labels(t):
    return 2 * t - 1 if np.all((t == 0) | (t == 1)) else t


def bce_from_logits(t, z, smoothing):
    t = t * (1 - smoothing) + 0.5 * smoothing
    return np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))), -1)


def pearson(t, p):
    def standardized(x):
        centered = x - x.mean(-1, keepdims=True)
        return centered / centered.std(-1, keepdims=True)
    return np.mean(standardized(t) * standardized(p), -1)


# name: (metric, y_true, y_pred, per-sample float64 reference)
MEAN_CASES = {
    "binary_crossentropy": (
        lambda: metrics.BinaryCrossentropy(from_logits=True, label_smoothing=0.1,
                                           dtype="float64"),
        BIN_T, LOGITS, bce_from_logits(BIN_T, LOGITS, 0.1)),
    "categorical_crossentropy": (
        lambda: metrics.CategoricalCrossentropy(dtype="float64"), ONE_HOT, softmax(LOGITS),
        -np.sum(ONE_HOT * np.log(np.clip(softmax(LOGITS), EPS, 1 - EPS)), -1)),
    "sparse_categorical_crossentropy": (
        lambda: metrics.SparseCategoricalCrossentropy(from_logits=True, dtype="float64"),
        LABELS, LOGITS, -log_probs(LOGITS)[np.arange(N), LABELS]),
    "kl_divergence": (
        lambda: metrics.KLDivergence(dtype="float64"), softmax(LOGITS[::-1]), softmax(LOGITS),
        np.sum(softmax(LOGITS[::-1]) * np.log(softmax(LOGITS[::-1]) / softmax(LOGITS)), -1)),
    "poisson": (
        lambda: metrics.Poisson(dtype="float64"), REG_T, np.abs(REG_P),
        np.mean(np.abs(REG_P) - REG_T * np.log(np.abs(REG_P) + EPS), -1)),
    "mape": (
        lambda: metrics.MeanAbsolutePercentageError(dtype="float64"), REG_T, REG_P,
        100 * np.mean(np.abs((REG_T - REG_P) / REG_T), -1)),
    "msle": (
        lambda: metrics.MeanSquaredLogarithmicError(dtype="float64"), REG_T, REG_P,
        np.mean((np.log1p(np.maximum(REG_P, EPS)) - np.log1p(REG_T)) ** 2, -1)),
    "logcosh": (
        lambda: metrics.LogCoshError(dtype="float64"), REG_T, REG_P,
        np.mean(np.log(np.cosh(REG_P - REG_T)), -1)),
    "cosine_similarity": (
        lambda: metrics.CosineSimilarity(dtype="float64"), REG_T, REG_P,
        np.sum(unit(REG_T) * unit(REG_P), -1)),
    "hinge": (
        lambda: metrics.Hinge(dtype="float64"), BIN_T, LOGITS,
        np.mean(np.maximum(1 - hinge_labels(BIN_T) * LOGITS, 0), -1)),
    "squared_hinge": (
        lambda: metrics.SquaredHinge(dtype="float64"), BIN_T, LOGITS,
        np.mean(np.maximum(1 - hinge_labels(BIN_T) * LOGITS, 0) ** 2, -1)),
    "categorical_hinge": (
        lambda: metrics.CategoricalHinge(dtype="float64"), ONE_HOT, LOGITS,
        np.maximum(np.max((1 - ONE_HOT) * LOGITS, -1) - np.sum(ONE_HOT * LOGITS, -1) + 1, 0)),
    "pearson_correlation": (
        lambda: metrics.PearsonCorrelation(dtype="float64"), REG_T, REG_P,
        pearson(REG_T, REG_P)),
}


@pytest.mark.parametrize("case", sorted(MEAN_CASES))
@pytest.mark.parametrize("weighted", [False, True])
def test_running_mean_over_two_batches(case, weighted):
    make, t, p, per_sample = MEAN_CASES[case]
    m = make()
    w = W if weighted else np.ones(N)
    m.update_state(t[:5], p[:5], sample_weight=w[:5] if weighted else None)
    m.update_state(t[5:], p[5:], sample_weight=w[5:] if weighted else None)
    np.testing.assert_allclose(float(m.result()), np.sum(per_sample * w) / np.sum(w),
                               rtol=1e-9)
    m.reset_state()
    assert float(m.result()) == 0.0


@pytest.mark.parametrize("weighted", [False, True])
def test_root_mean_squared_error(weighted):
    m = metrics.RootMeanSquaredError(dtype="float64")
    w = W if weighted else np.ones(N)
    m.update_state(REG_T[:3], REG_P[:3], sample_weight=w[:3] if weighted else None)
    m.update_state(REG_T[3:], REG_P[3:], sample_weight=w[3:] if weighted else None)
    per_sample = np.mean((REG_T - REG_P) ** 2, -1)
    np.testing.assert_allclose(float(m.result()), np.sqrt(np.sum(per_sample * w) / w.sum()),
                               rtol=1e-12)


# -- R2 ------------------------------------------------------------------------------------------

def ref_r2(t, p, w, aggregation, num_regressors=0):
    w = np.broadcast_to(w[:, None], t.shape)
    mean = (w * t).sum(0) / w.sum(0)
    total = (w * (t - mean) ** 2).sum(0)
    scores = 1 - (w * (t - p) ** 2).sum(0) / total
    if aggregation == "uniform_average":
        scores = scores.mean()
    elif aggregation == "variance_weighted_average":
        scores = np.sum(total * scores) / total.sum()
    if num_regressors:
        n = t.size  # Keras counts every value seen
        scores = 1 - (1 - scores) * (n - 1) / (n - num_regressors - 1)
    return scores


@pytest.mark.parametrize("aggregation", [None, "uniform_average", "variance_weighted_average"])
@pytest.mark.parametrize("weighted", [False, True])
def test_r2_score(aggregation, weighted):
    w = W if weighted else np.ones(N)
    m = metrics.R2Score(class_aggregation=aggregation, dtype="float64")
    m.update_state(REG_T[:4], REG_P[:4], sample_weight=w[:4] if weighted else None)
    m.update_state(REG_T[4:], REG_P[4:], sample_weight=w[4:] if weighted else None)
    np.testing.assert_allclose(np.asarray(m.result()), ref_r2(REG_T, REG_P, w, aggregation),
                               rtol=1e-9)


def test_adjusted_r2_and_its_fallback_with_too_few_samples():
    m = metrics.R2Score(num_regressors=3, dtype="float64")
    m.update_state(REG_T, REG_P)
    np.testing.assert_allclose(float(m.result()),
                               ref_r2(REG_T, REG_P, np.ones(N), "uniform_average", 3),
                               rtol=1e-9)
    few = metrics.R2Score(num_regressors=50, dtype="float64")
    few.update_state(REG_T, REG_P)
    with pytest.warns(UserWarning, match="Falling back"):
        score = float(few.result())
    np.testing.assert_allclose(score, ref_r2(REG_T, REG_P, np.ones(N), "uniform_average"),
                               rtol=1e-9)


def test_r2_constant_column_scores_zero_and_bad_arguments_are_named():
    t = np.stack([REG_T[:, 0], np.ones(N)], axis=1)
    m = metrics.R2Score(class_aggregation=None, dtype="float64")
    m.update_state(t, REG_P[:, :2])
    with np.errstate(divide="ignore"):  # SS_res / 0 is the inf that the score maps to 0
        assert float(m.result()[1]) == 0.0
    with pytest.raises(ValueError, match="class_aggregation"):
        metrics.R2Score(class_aggregation="median")
    with pytest.raises(ValueError, match="2D inputs"):
        metrics.R2Score().update_state(np.ones((2, 2, 2)), np.ones((2, 2, 2)))


# -- F-scores ------------------------------------------------------------------------------------

def ref_fbeta(t, p, beta, threshold, average, w):
    if threshold is None:
        pred = (p >= p.max(-1, keepdims=True)) & (np.abs(p) > 1e-9)
    else:
        pred = p > threshold
    pred = pred.astype(float)
    axis = None if average == "micro" else 0
    w = w[:, None]
    tp = np.sum(pred * t * w, axis)
    fp = np.sum(pred * (1 - t) * w, axis)
    fn = np.sum((1 - pred) * t * w, axis)
    precision, recall = tp / (tp + fp + EPS), tp / (tp + fn + EPS)
    score = (1 + beta ** 2) * precision * recall / (beta ** 2 * precision + recall + EPS)
    if average == "weighted":
        support = np.sum(t * w, axis)
        return np.sum(score * support / (support.sum() + EPS))
    return score if average is None else np.mean(score)


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("threshold", [None, 0.4])
def test_fbeta_score(average, threshold):
    p = sigmoid(LOGITS)
    m = metrics.FBetaScore(average=average, beta=2.0, threshold=threshold, dtype="float64")
    m.update_state(BIN_T[:5], p[:5], sample_weight=W[:5])
    m.update_state(BIN_T[5:], p[5:], sample_weight=W[5:])
    np.testing.assert_allclose(np.asarray(m.result()),
                               ref_fbeta(BIN_T, p, 2.0, threshold, average, W), rtol=1e-9)


def test_f1_score_keras_docstring_example():
    m = metrics.F1Score(threshold=0.5)
    m.update_state(np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]]),
                   np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]))
    np.testing.assert_allclose(m.result().numpy(), [0.5, 0.8, 0.6666667], rtol=1e-5)
    assert "beta" not in m.get_config()
    with pytest.raises(ValueError, match="beta"):
        metrics.FBetaScore(beta=2)
    with pytest.raises(ValueError, match="average"):
        metrics.F1Score(average="samples")


# -- IoU -------------------------------------------------------------------------------------------

def ref_iou(labels, preds, num_classes, targets, weights, ignore_class=None):
    cm = np.zeros((num_classes, num_classes))
    for label, pred, w in zip(labels, preds, weights):
        if 0 <= label < num_classes and 0 <= pred < num_classes and label != ignore_class:
            cm[label, pred] += w
    tp = np.diag(cm)
    denominator = (cm.sum(0) + cm.sum(1) - tp)[targets]
    present = denominator > 0
    iou = np.where(present, tp[targets] / (denominator + EPS), 0.0)
    return iou.sum() / (present.sum() + EPS)


IOU_LABELS = np.array([0, 1, 2, 3, 1, 2, 0, 3, 7, 2, 1, 0])  # 7: out of range, not counted
IOU_PREDS = np.array([0, 2, 2, 3, 1, 1, 0, 0, 1, -1, 1, 3])
IOU_W = np.array([1, 2, 1, 3, 1, 1, 2, 1, 1, 1, 0, 2])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_class", [None, 2])
def test_iou_and_mean_iou(weighted, ignore_class):
    w = IOU_W if weighted else np.ones(12, int)
    cases = [(metrics.IoU(4, [0, 3], ignore_class=ignore_class), [0, 3]),
             (metrics.MeanIoU(4, ignore_class=ignore_class), [0, 1, 2, 3]),
             (metrics.MeanIoU(6, ignore_class=ignore_class), list(range(6)))]  # absent ones
    for m, targets in cases:
        m.update_state(IOU_LABELS[:7], IOU_PREDS[:7], sample_weight=w[:7] if weighted else None)
        m.update_state(IOU_LABELS[7:], IOU_PREDS[7:], sample_weight=w[7:] if weighted else None)
        np.testing.assert_allclose(
            float(m.result()),
            ref_iou(IOU_LABELS, IOU_PREDS, m.num_classes, targets, w, ignore_class), rtol=1e-6)


def test_one_hot_and_binary_iou():
    scores = RNG.normal(size=(12, 4))
    one_hot = np.eye(4)[IOU_LABELS % 4]
    m = metrics.OneHotMeanIoU(4, dtype="float32")
    m.update_state(one_hot, scores, sample_weight=W[:8].tolist() + [1.0] * 4)
    weights = np.array(W[:8].tolist() + [1.0] * 4, "float32")
    np.testing.assert_allclose(float(m.result()), ref_iou(IOU_LABELS % 4, scores.argmax(-1), 4,
                                                          [0, 1, 2, 3], weights), rtol=1e-6)
    one = metrics.OneHotIoU(4, [1, 2], sparse_y_pred=True)
    one.update_state(one_hot, IOU_PREDS)
    np.testing.assert_allclose(float(one.result()),
                               ref_iou(IOU_LABELS % 4, IOU_PREDS, 4, [1, 2], np.ones(12)),
                               rtol=1e-6)
    probs = sigmoid(LOGITS[:, 0])
    binary = metrics.BinaryIoU(target_class_ids=[1], threshold=0.3)
    binary.update_state(BIN_T[:, 0], probs)
    np.testing.assert_allclose(float(binary.result()),
                               ref_iou(BIN_T[:, 0].astype(int), (probs >= 0.3).astype(int), 2,
                                       [1], np.ones(N)), rtol=1e-6)


def test_iou_target_class_out_of_range_is_named():
    with pytest.raises(ValueError, match="out of range"):
        metrics.IoU(3, [0, 3])


# -- configs, names, directions --------------------------------------------------------------

# Each class with arguments, and the config keys beyond name and dtype (Keras 3's).
CONFIGS = [
    (metrics.BinaryCrossentropy, dict(from_logits=True, label_smoothing=0.1),
     {"from_logits", "label_smoothing"}),
    (metrics.CategoricalCrossentropy, dict(from_logits=True, axis=-1),
     {"from_logits", "label_smoothing", "axis"}),
    (metrics.SparseCategoricalCrossentropy, dict(ignore_class=0),
     {"from_logits", "ignore_class", "axis"}),
    (metrics.KLDivergence, {}, set()),
    (metrics.Poisson, {}, set()),
    (metrics.RootMeanSquaredError, {}, set()),
    (metrics.MeanAbsolutePercentageError, {}, set()),
    (metrics.MeanSquaredLogarithmicError, {}, set()),
    (metrics.LogCoshError, {}, set()),
    (metrics.CosineSimilarity, {}, set()),  # Keras leaves `axis` out
    (metrics.Hinge, {}, set()),
    (metrics.SquaredHinge, {}, set()),
    (metrics.CategoricalHinge, {}, set()),
    (metrics.R2Score, dict(class_aggregation=None, num_regressors=2),
     {"class_aggregation", "num_regressors"}),
    (metrics.FBetaScore, dict(average="macro", beta=0.5, threshold=0.3),
     {"average", "beta", "threshold"}),
    (metrics.F1Score, dict(average="weighted"), {"average", "threshold"}),
    (metrics.PearsonCorrelation, dict(axis=-1), {"axis"}),
    (metrics.IoU, dict(num_classes=3, target_class_ids=[0, 2], ignore_class=1),
     {"num_classes", "target_class_ids", "ignore_class", "sparse_y_true", "sparse_y_pred",
      "axis"}),
    (metrics.MeanIoU, dict(num_classes=3, sparse_y_pred=False),
     {"num_classes", "ignore_class", "sparse_y_true", "sparse_y_pred", "axis"}),
    (metrics.BinaryIoU, dict(target_class_ids=[1], threshold=0.4),
     {"target_class_ids", "threshold"}),
    (metrics.OneHotIoU, dict(num_classes=3, target_class_ids=[1]),
     {"num_classes", "target_class_ids", "ignore_class", "sparse_y_pred", "axis"}),
    (metrics.OneHotMeanIoU, dict(num_classes=3),
     {"num_classes", "ignore_class", "sparse_y_pred", "axis"}),
]


@pytest.mark.parametrize("cls,kwargs,keys", CONFIGS, ids=[c[0].__name__ for c in CONFIGS])
def test_config_keys_are_keras_and_round_trip(cls, kwargs, keys):
    m = cls(name="m", **kwargs)
    config = m.get_config()
    assert set(config) == {"name", "dtype"} | keys
    assert cls.from_config(config).get_config() == config
    assert metrics.deserialize(metrics.serialize(m)).get_config() == config


UP = {metrics.CosineSimilarity, metrics.R2Score, metrics.FBetaScore, metrics.F1Score,
      metrics.PearsonCorrelation, metrics.IoU, metrics.MeanIoU, metrics.BinaryIoU,
      metrics.OneHotIoU, metrics.OneHotMeanIoU}


@pytest.mark.parametrize("cls,kwargs,keys", CONFIGS, ids=[c[0].__name__ for c in CONFIGS])
def test_direction_for_callbacks_in_auto_mode(cls, kwargs, keys):
    assert cls(**kwargs)._direction == ("up" if cls in UP else "down")


@pytest.mark.parametrize("name,kind", [
    ("mape", metrics.mean_absolute_percentage_error), ("MAPE", metrics.mape),
    ("msle", metrics.mean_squared_logarithmic_error), ("logcosh", metrics.log_cosh),
    ("kld", metrics.kl_divergence), ("poisson", metrics.poisson), ("hinge", metrics.hinge),
    ("squared_hinge", metrics.squared_hinge), ("categorical_hinge", metrics.categorical_hinge),
    ("bce", metrics.binary_crossentropy),
    ("binary_crossentropy", metrics.binary_crossentropy),
    ("sparse_categorical_crossentropy", metrics.sparse_categorical_crossentropy),
    ("root_mean_squared_error", metrics.RootMeanSquaredError),
    ("log_cosh_error", metrics.LogCoshError), ("r2_score", metrics.R2Score),
    ("cosine_similarity", metrics.CosineSimilarity), ("f1_score", metrics.F1Score),
    ("fbeta_score", metrics.FBetaScore), ("pearson_correlation", metrics.PearsonCorrelation),
    ("RootMeanSquaredError", metrics.RootMeanSquaredError),
])
def test_string_names(name, kind):
    got = metrics.get(name)
    assert got is kind if not isinstance(kind, type) else type(got) is kind


def test_compile_names_loss_function_metrics_and_they_go_down():
    model = gk.Sequential([gk.Input((3,)), gk.layers.Dense(3)])
    model.compile(loss="mse", metrics=["mape", "hinge", "cosine_similarity"])
    model.fit(REG_T.astype("float32"), REG_P.astype("float32"), epochs=1, verbose=0)
    directions = {m.name: m._direction for m in model.metrics if hasattr(m, "_direction")}
    assert directions == {"mape": "down", "hinge": "down", "cosine_similarity": "up"}


# -- training ------------------------------------------------------------------------------

def new_metrics():
    return ["mape", "root_mean_squared_error", "cosine_similarity", "r2_score",
            metrics.F1Score(average="macro", threshold=0.5), "bce", metrics.KLDivergence(),
            "logcosh", metrics.OneHotMeanIoU(num_classes=3, name="iou")]


def test_compiled_fit_gives_the_eager_logs():
    eager = fit_logs("squared_hinge", new_metrics(), jit_compile=False)
    compiled = fit_logs("squared_hinge", new_metrics(), jit_compile=True)
    assert set(compiled) == set(eager)
    assert {"val_r2_score", "f1_score", "mape", "logcosh", "iou"} <= set(eager)
    for key in eager:
        assert np.all(np.isfinite(eager[key])), key
        np.testing.assert_allclose(compiled[key], eager[key], rtol=1e-5, atol=1e-5)
