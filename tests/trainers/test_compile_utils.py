"""How compile() arguments are matched to outputs and resolved."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from graphkit.trainers import compile_utils


def resolved_accuracy(y_true, y_pred, loss=None):
    m = compile_utils._resolve_metric("accuracy", gk.ops.convert_to_tensor(y_true),
                                      gk.ops.convert_to_tensor(y_pred), loss)
    return m._fn


def test_accuracy_is_resolved_from_shapes_and_loss():
    from graphkit import metrics
    assert resolved_accuracy(np.zeros((4, 1)), np.zeros((4, 1))) is metrics.binary_accuracy
    assert resolved_accuracy(np.zeros(4), np.zeros((4, 3))) is \
        metrics.sparse_categorical_accuracy
    assert resolved_accuracy(np.zeros((4, 1)), np.zeros((4, 3))) is \
        metrics.sparse_categorical_accuracy
    assert resolved_accuracy(np.zeros((4, 3)), np.zeros((4, 3))) is \
        metrics.categorical_accuracy
    bce = gk.losses.BinaryCrossentropy()
    assert resolved_accuracy(np.zeros((4, 3)), np.zeros((4, 3)), bce) is \
        metrics.binary_accuracy


def test_binary_model_reports_binary_accuracy():
    inp = gk.Input((2,))
    out = layers.Dense(1, activation="sigmoid", kernel_initializer="ones")(inp)
    model = gk.Model(inp, out)
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    x = np.array([[1.0, 1.0], [-1.0, -1.0], [2.0, 0.0], [-3.0, 1.0]])
    y = np.array([[1.0], [1.0], [1.0], [0.0]])
    pred = model.predict(x, verbose=0)
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    assert logs["accuracy"] == pytest.approx(np.mean((pred > 0.5) == (y > 0.5)))


def test_list_losses_must_match_the_number_of_outputs():
    inp = gk.Input((2,))
    model = gk.Model(inp, [layers.Dense(1)(inp), layers.Dense(1)(inp)])
    model.compile(optimizer="sgd", loss=["mse"])
    with pytest.raises(ValueError, match="2 output"):
        model.fit(np.ones((2, 2)), [np.ones((2, 1)), np.ones((2, 1))], verbose=0)


def test_one_loss_applies_to_every_output():
    inp = gk.Input((2,))
    a = layers.Dense(1, name="a")(inp)
    b = layers.Dense(1, name="b")(inp)
    model = gk.Model(inp, [a, b])
    model.compile(optimizer="sgd", loss="mse", metrics=[["mae"], []])
    x, ya, yb = np.ones((3, 2)), np.zeros((3, 1)), np.ones((3, 1))
    logs = model.evaluate(x, [ya, yb], return_dict=True, verbose=0)
    pa, pb = model.predict(x, verbose=0)
    assert logs["a_loss"] == pytest.approx(np.mean((pa - ya) ** 2), rel=1e-5)
    assert logs["b_loss"] == pytest.approx(np.mean((pb - yb) ** 2), rel=1e-5)
    assert logs["loss"] == pytest.approx(logs["a_loss"] + logs["b_loss"], rel=1e-5)
    assert logs["a_mae"] == pytest.approx(np.mean(np.abs(pa - ya)), rel=1e-5)
    assert model.metrics_names == ["loss", "a_mae", "a_loss", "b_loss"]


def test_unknown_output_name_in_a_loss_dict():
    inp = gk.Input((2,))
    model = gk.Model(inp, layers.Dense(1, name="out")(inp))
    model.compile(optimizer="sgd", loss={"typo": "mse"})
    with pytest.raises(ValueError, match="typo"):
        model.fit(np.ones((2, 2)), np.ones((2, 1)), verbose=0)


def test_metric_given_by_string_is_logged_under_that_string():
    x = np.ones((4, 3), "float32")
    y = np.array([[0], [1], [0], [1]], "float32")
    for _ in range(2):  # the second model must not get "auc_1"
        model = gk.Sequential([gk.Input((3,)), layers.Dense(1, activation="sigmoid")])
        model.compile("adam", "binary_crossentropy", metrics=["acc", "auc", "precision"])
        logs = model.train_on_batch(x, y, return_dict=True)
        assert sorted(logs) == ["acc", "auc", "loss", "precision"]
