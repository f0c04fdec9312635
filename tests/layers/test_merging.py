"""Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, and masks flowing through
them."""
import numpy as np
import pytest

from graphkit import layers, ops
from tests.layers.layer_checks import assert_config_roundtrip

BASE_KEYS = {"name", "trainable", "dtype"}
RNG = np.random.default_rng(0)
A, B, C = (RNG.normal(size=(2, 3, 4)) for _ in range(3))


@pytest.mark.parametrize("cls, fn, reference", [
    (layers.Add, layers.add, lambda xs: sum(xs)),
    (layers.Multiply, layers.multiply, lambda xs: xs[0] * xs[1] * xs[2]),
    (layers.Average, layers.average, lambda xs: sum(xs) / 3),
    (layers.Maximum, layers.maximum, lambda xs: np.maximum(np.maximum(xs[0], xs[1]), xs[2])),
    (layers.Minimum, layers.minimum, lambda xs: np.minimum(np.minimum(xs[0], xs[1]), xs[2])),
])
def test_elementwise_merges(cls, fn, reference):
    layer = cls(dtype="float64")
    np.testing.assert_allclose(np.asarray(layer([A, B, C])), reference([A, B, C]), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(fn([A, B, C], dtype="float64")),
                               reference([A, B, C]), rtol=1e-12)
    assert layer.compute_output_shape([(None, 3, 4), (None, 3, 4), (None, 3, 4)]) == \
        (None, 3, 4)
    assert_config_roundtrip(layer, BASE_KEYS)


def test_subtract():
    layer = layers.Subtract(dtype="float64")
    np.testing.assert_allclose(np.asarray(layer([A, B])), A - B, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(layers.subtract([A, B], dtype="float64")), A - B)
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Subtract()([A, B, C])


def test_merge_broadcasts_and_expands_lower_rank():
    a = RNG.normal(size=(2, 3, 4))
    b = RNG.normal(size=(2, 1, 4))
    c = RNG.normal(size=(2, 4))
    np.testing.assert_allclose(np.asarray(layers.Add(dtype="float64")([a, b])), a + b)
    # rank 2 is expanded at axis 1 to (2, 1, 4), as in Keras
    np.testing.assert_allclose(np.asarray(layers.Add(dtype="float64")([a, c])),
                               a + c[:, None, :])
    assert layers.Add().compute_output_shape([(None, 3, 4), (None, 1, 4)]) == (None, 3, 4)


def test_merge_errors():
    with pytest.raises(ValueError, match=r"add.*incompatible shapes"):
        layers.Add()([np.ones((2, 3), "float32"), np.ones((2, 4), "float32")])
    with pytest.raises(ValueError, match="list"):
        layers.Add()(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="batch sizes"):
        layers.Add()([np.ones((2, 3), "float32"), np.ones((3, 3), "float32")])


def test_concatenate():
    b = RNG.normal(size=(2, 5, 4))
    layer = layers.Concatenate(axis=1, dtype="float64")
    np.testing.assert_allclose(np.asarray(layer([A, b])), np.concatenate([A, b], axis=1))
    assert layer.compute_output_shape([(None, 3, 4), (None, 5, 4)]) == (None, 8, 4)
    assert layer.compute_output_shape([(None, None, 4), (None, 5, 4)]) == (None, None, 4)
    np.testing.assert_allclose(np.asarray(layers.concatenate([A, B], dtype="float64")),
                               np.concatenate([A, B], axis=-1))
    config = assert_config_roundtrip(layer, BASE_KEYS | {"axis"}).get_config()
    assert config["axis"] == 1
    with pytest.raises(ValueError, match=r"concatenate.*matching shapes"):
        layers.Concatenate()([A, RNG.normal(size=(2, 5, 4))])


# -- masks: Embedding(mask_zero) -> Masking -> merging -------------------------------------

IDX1 = np.array([[1, 0, 2, 0], [0, 0, 3, 1]])
IDX2 = np.array([[1, 1, 0, 0], [0, 1, 1, 1]])


def _masked_pair():
    e1 = layers.Embedding(5, 3, mask_zero=True)(IDX1)
    e2 = layers.Embedding(5, 3, mask_zero=True)(IDX2)
    return e1, e2


@pytest.mark.parametrize("cls", [layers.Add, layers.Subtract, layers.Multiply,
                                 layers.Average, layers.Maximum, layers.Minimum])
def test_elementwise_merge_ors_masks(cls):
    e1, e2 = _masked_pair()
    y = cls()([e1, e2])
    np.testing.assert_array_equal(np.asarray(y._keras_mask), (IDX1 != 0) | (IDX2 != 0))


def test_merge_mask_is_none_when_an_input_is_unmasked():
    e1, _ = _masked_pair()
    y = layers.Add()([e1, ops.ones_like(e1)])
    assert getattr(y, "_keras_mask", None) is None


def test_concatenate_masks():
    e1, e2 = _masked_pair()
    features = layers.Concatenate()([e1, e2])
    np.testing.assert_array_equal(np.asarray(features._keras_mask),
                                  (IDX1 != 0) | (IDX2 != 0))
    time = layers.Concatenate(axis=1)([e1, e2])
    np.testing.assert_array_equal(np.asarray(time._keras_mask),
                                  np.concatenate([IDX1 != 0, IDX2 != 0], axis=1))
    mixed = layers.Concatenate(axis=1)([e1, ops.ones_like(e2)])
    np.testing.assert_array_equal(np.asarray(mixed._keras_mask),
                                  np.concatenate([IDX1 != 0, np.ones_like(IDX2, bool)], axis=1))


def test_embedding_masking_merge_chain():
    """A mask made by Embedding survives Masking (which makes its own) and merging."""
    emb = layers.Embedding(5, 3, mask_zero=True, embeddings_initializer="ones")(IDX1)
    features = np.ones((2, 4, 3), "float32")
    features[0, 3] = 0.0  # Masking masks this step
    masked = layers.Masking()(features)
    np.testing.assert_array_equal(np.asarray(masked._keras_mask), [[1, 1, 1, 0], [1, 1, 1, 1]])
    merged = layers.Add()([emb, masked])
    np.testing.assert_array_equal(np.asarray(merged._keras_mask),
                                  (IDX1 != 0) | np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool))
    out = layers.Dense(2)(merged)  # Dense supports masking: the mask passes through
    np.testing.assert_array_equal(np.asarray(out._keras_mask), np.asarray(merged._keras_mask))
