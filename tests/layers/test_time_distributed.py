"""TimeDistributed against a NumPy per-step loop; weights, masks, configs, compiled parity."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import check_weight_grads


def _x(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def test_time_distributed_dense_applies_the_same_weights_at_every_step():
    x = _x(3, 5, 4)
    layer = layers.TimeDistributed(layers.Dense(2, activation="tanh", dtype="float64"),
                                   dtype="float64")
    y = np.asarray(layer(x))
    kernel, bias = layer.layer.get_weights()
    np.testing.assert_allclose(y, np.tanh(x @ kernel + bias), rtol=1e-12)
    assert [tuple(w.shape) for w in layer.weights] == [(4, 2), (2,)]
    assert layer.compute_output_shape((None, None, 4)) == (None, None, 2)
    check_weight_grads(layer, x, _x(3, 5, 2, seed=1))


def test_time_distributed_conv_over_frames_symbolically_and_compiled():
    inputs = gk.Input((None, 6, 6, 1))  # a clip of any length
    frames = layers.TimeDistributed(layers.Conv2D(3, 3))(inputs)
    assert frames.shape == (None, None, 4, 4, 3)
    outputs = layers.TimeDistributed(layers.GlobalAveragePooling2D())(frames)
    model = gk.Model(inputs, outputs)
    x = _x(2, 4, 6, 6, 1).astype("float32")
    conv = model.layers[1].layer
    kernel, bias = conv.get_weights()
    expected = np.stack([np.asarray(conv(x[:, t])).mean(axis=(1, 2)) for t in range(4)], 1)
    eager = model.predict(x, verbose=0)
    np.testing.assert_allclose(eager, expected, rtol=1e-5)
    report = gk.debugging.compare(lambda a: model(a), x)
    assert report.max_rel_error <= 1e-5, report


def test_time_distributed_passes_each_steps_mask_and_keeps_the_mask():
    seen = []

    class MaskedSum(gk.layers.Layer):
        def call(self, inputs, mask=None):
            seen.append(None if mask is None else np.asarray(mask).copy())
            return inputs

    mask = np.array([[True, False, True], [True, True, False]])
    layer = layers.TimeDistributed(MaskedSum())
    y = layer(_x(2, 3, 4).astype("float32"), mask=mask)
    assert len(seen) == 3
    for t in range(3):
        np.testing.assert_array_equal(seen[t], mask[:, t])
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(None, mask)), mask)
    with pytest.raises(ValueError, match=r"TimeDistributed '.*'.*mask's first two"):
        layer(_x(2, 3, 4).astype("float32"), mask=np.ones((2, 4), bool))
    assert y.shape == (2, 3, 4)


def test_time_distributed_dense_after_a_masking_embedding():
    # Dense's call() takes no mask: the step's mask is not passed to it, and the mask
    # still reaches the layers after TimeDistributed.
    inputs = gk.Input((4,), dtype="int32")
    embedded = layers.Embedding(6, 3, mask_zero=True)(inputs)
    outputs = layers.TimeDistributed(layers.Dense(2))(embedded)
    assert outputs.shape == (None, 4, 2)
    assert outputs._keras_mask is not None
    model = gk.Model(inputs, outputs)
    ids = np.array([[1, 2, 0, 0], [3, 5, 4, 0]])
    table = model.layers[1].get_weights()[0]
    kernel, bias = model.layers[2].layer.get_weights()
    expected = table.astype("float64")[ids] @ kernel + bias
    np.testing.assert_allclose(model.predict(ids, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(model(ids)._keras_mask), ids != 0)


def test_time_distributed_config_and_errors(tmp_path):
    inputs = gk.Input((3, 4))
    model = gk.Model(inputs, layers.TimeDistributed(layers.Dense(2))(inputs))
    x = _x(2, 3, 4).astype("float32")
    model.save(tmp_path / "td.keras")
    loaded = gk.saving.load_model(tmp_path / "td.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.layers[1].get_config()["layer"]["class_name"] == "Dense"
    with pytest.raises(ValueError, match="`layer` must be a Layer instance"):
        layers.TimeDistributed("dense")
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        layers.TimeDistributed(layers.Dense(2))(gk.Input((4,)))
