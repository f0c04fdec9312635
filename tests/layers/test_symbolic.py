"""Built-in layers called on KerasTensors: output shapes, dtypes and masks, no data."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers


def _kt(shape, dtype="float32"):
    return gk.KerasTensor(shape, dtype)


@pytest.mark.parametrize("layer, in_shape, out_shape", [
    (lambda: layers.Dense(5), (None, 3), (None, 5)),
    (lambda: layers.Dense(5), (None, 7, 3), (None, 7, 5)),
    (lambda: layers.EinsumDense("abc,cd->abd", (None, 4), bias_axes="d"), (None, 6, 3),
     (None, 6, 4)),
    (lambda: layers.Activation("relu"), (None, 3), (None, 3)),
    (lambda: layers.Masking(), (None, 4, 3), (None, 4, 3)),
    (lambda: layers.Dropout(0.5), (None, 3), (None, 3)),
    (lambda: layers.ActivityRegularization(l1=0.1), (None, 3), (None, 3)),
    (lambda: layers.BatchNormalization(), (None, 4, 3), (None, 4, 3)),
    (lambda: layers.LayerNormalization(), (None, 4, 3), (None, 4, 3)),
    (lambda: layers.Flatten(), (None, 4, 3), (None, 12)),
    (lambda: layers.Reshape((3, -1)), (None, 4, 3), (None, 3, 4)),
    (lambda: layers.Permute((2, 1)), (None, 4, 3), (None, 3, 4)),
    (lambda: layers.RepeatVector(2), (None, 3), (None, 2, 3)),
    (lambda: layers.Lambda(lambda x: x[:, :2]), (None, 3), (None, 2)),
])
def test_symbolic_output_shape(layer, in_shape, out_shape):
    layer = layer()
    y = layer(_kt(in_shape))
    assert isinstance(y, gk.KerasTensor)
    assert tuple(y.shape) == out_shape
    assert y.dtype == "float32"


def test_symbolic_call_does_not_touch_batch_norm_state():
    layer = layers.BatchNormalization()
    layer(_kt((None, 3)), training=True)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), np.zeros(3))


def test_symbolic_embedding_and_merge_masks():
    idx = _kt((None, 5), "int32")
    a = layers.Embedding(10, 4, mask_zero=True)(idx)
    b = layers.Embedding(10, 4, mask_zero=True)(idx)
    assert tuple(a.shape) == (None, 5, 4) and a.dtype == "float32"
    assert tuple(a._keras_mask.shape) == (None, 5) and a._keras_mask.dtype == "bool"
    added = layers.Add()([a, b])
    assert tuple(added.shape) == (None, 5, 4)
    assert tuple(added._keras_mask.shape) == (None, 5)
    joined = layers.Concatenate(axis=1)([a, b])
    assert tuple(joined.shape) == (None, 10, 4)
    assert tuple(joined._keras_mask.shape) == (None, 10)
    masked = layers.Masking()(_kt((None, 5, 4)))
    assert tuple(masked._keras_mask.shape) == (None, 5)


def test_symbolic_lambda_keeps_output_dtype():
    y = layers.Lambda(lambda x: gk.ops.cast(x, "int32"))(_kt((None, 3)))
    assert y.dtype == "int32" and tuple(y.shape) == (None, 3)


def test_functional_model_of_builtin_layers_runs_and_round_trips():
    inp = gk.Input((4,), dtype="int32")
    emb = layers.Embedding(10, 3, mask_zero=True)(inp)
    masked = layers.Masking()(layers.Dense(3, activation="relu")(emb))
    summed = layers.Add()([emb, masked])
    assert tuple(summed._keras_mask.shape) == (None, 4)
    joined = layers.Concatenate()([summed, layers.LayerNormalization()(summed)])
    normed = layers.Dropout(0.3)(layers.BatchNormalization()(joined))
    with pytest.warns(UserWarning, match="does not support masking"):  # as in Keras
        flat = layers.Reshape((24,))(normed)
    out = layers.Dense(2, activation="softmax")(flat)
    model = gk.Model(inp, [out, summed, masked])
    x = np.array([[1, 0, 2, 0], [3, 4, 0, 1]])
    with pytest.warns(UserWarning, match="does not support masking"):
        probs, sums, steps = model(x)
    np.testing.assert_allclose(np.asarray(probs).sum(-1), 1.0, rtol=1e-6)
    # The Embedding mask, ORed with the Masking mask, reaches the model's output.
    np.testing.assert_array_equal(np.asarray(steps._keras_mask),
                                  np.any(np.asarray(steps) != 0, axis=-1))
    np.testing.assert_array_equal(np.asarray(sums._keras_mask),
                                  (x != 0) | np.asarray(steps._keras_mask))
    with pytest.warns(UserWarning, match="does not support masking"):
        clone = gk.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    with pytest.warns(UserWarning, match="does not support masking"):
        np.testing.assert_allclose(np.asarray(clone(x)[0]), np.asarray(probs), rtol=1e-6)
