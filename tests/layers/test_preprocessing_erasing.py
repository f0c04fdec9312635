"""RandomErasing against NumPy: what each image became (one rectangle, or nothing), the
rectangle's size and place against Keras's draws, the fill, and the layer's contract.
Compiled parity is in tests/debugging/parity_cases.py."""
import numpy as np
import pytest

from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip


def _erased_boxes(x, y):
    """Per image: None if unchanged, else (rows, cols) of the erased rectangle, checking
    that the changed pixels form exactly that rectangle over every channel."""
    boxes = []
    for a, b in zip(x, y):
        changed = (a != b).any(axis=-1)
        if not changed.any():
            boxes.append(None)
            continue
        rows, cols = np.flatnonzero(changed.any(1)), np.flatnonzero(changed.any(0))
        box = np.zeros_like(changed)
        box[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = True
        np.testing.assert_array_equal(changed, box)
        boxes.append((rows, cols))
    return boxes


def test_random_erasing_identity_at_inference_and_seeded():
    x = np.random.default_rng(0).uniform(0, 255, (8, 6, 7, 3)).astype("float32")
    layer = layers.RandomErasing(seed=3)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    first = np.asarray(layer(x, training=True))
    np.testing.assert_array_equal(np.asarray(layers.RandomErasing(seed=3)(x)), first)
    later = [np.asarray(layer(x, training=True)) for _ in range(3)]
    assert any(not np.array_equal(first, y) for y in later)
    assert len(layer.non_trainable_variables) == 1 and layer.weights == []
    assert np.asarray(layers.RandomErasing(seed=4)(x[0])).shape == x[0].shape


def test_random_erasing_erases_one_rectangle_with_keras_sizes():
    # scale (0.1, 0.5): side fractions sqrt(U[0.1, 0.5)) in [0.316, 0.707); the box spans
    # [start, start + fraction * size), so it covers about that many whole pixels.
    x = np.full((3000, 10, 12, 2), 100.0)
    y = np.asarray(layers.RandomErasing((0.2, 0.6), scale=(0.1, 0.5), fill_value=0.0,
                                        seed=5, dtype="float64")(x, training=True))
    boxes = _erased_boxes(x, y)
    hits = [b for b in boxes if b is not None]
    assert 0.36 < len(hits) / len(boxes) < 0.44  # E[p] = 0.4
    heights = np.array([len(r) for r, _ in hits])
    widths = np.array([len(c) for _, c in hits])
    assert heights.min() >= 3 and heights.max() <= 8 and 4.5 < heights.mean() < 6.0
    assert widths.min() >= 3 and widths.max() <= 10 and 5.5 < widths.mean() < 7.0
    assert (y[y != 100.0] == 0.0).all()
    # The boxes reach the last row; as in Keras (grid >= start, start > 0 but for a zero
    # draw) the first row only with a box of the full height.
    assert min(r[0] for r, _ in hits) == 1 and max(r[-1] for r, _ in hits) == 9


def test_random_erasing_full_box_and_fill_values():
    x = np.random.default_rng(1).uniform(0, 255, (3, 4, 5, 3))
    full = dict(factor=(1, 1), scale=(1, 1), dtype="float64")
    np.testing.assert_array_equal(
        np.asarray(layers.RandomErasing(fill_value=300, **full)(x)), np.full_like(x, 255))
    per_channel = np.asarray(layers.RandomErasing(fill_value=(1, 50, -3), **full)(x))
    np.testing.assert_array_equal(per_channel, np.broadcast_to([1.0, 50.0, 0.0], x.shape))
    first = np.asarray(layers.RandomErasing(fill_value=(1, 50, 7), data_format="channels_first",
                                            **full)(np.moveaxis(x, -1, 1)))
    np.testing.assert_array_equal(first, np.broadcast_to([[[1.0]], [[50.0]], [[7.0]]],
                                                         first.shape))
    np.testing.assert_array_equal(
        np.asarray(layers.RandomErasing(0.0, dtype="float64")(x)), x)


def test_random_erasing_noise_fill():
    # fill_value None: normal noise times value_range[1], clipped to value_range.
    x = np.full((2, 40, 50, 1), 0.5)
    y = np.asarray(layers.RandomErasing((1, 1), scale=(1, 1), value_range=(-3, 3), seed=6,
                                        dtype="float64")(x)).ravel()
    assert y.min() >= -3 and y.max() <= 3
    clipped = np.abs(y) == 3
    assert 0.29 < clipped.mean() < 0.35  # P(|N(0, 1)| > 1) = 0.317
    assert len(np.unique(y[~clipped])) == (~clipped).sum()  # noise, not a constant
    assert abs(y.mean()) < 0.1


def test_random_erasing_config_and_errors():
    layer = layers.RandomErasing(0.5, scale=0.3, fill_value=(1, 2, 3), seed=7)
    assert layer.factor == (0, 0.5) and layer.scale == (0, 0.3)
    assert_config_roundtrip(layer, {"name", "trainable", "dtype", "data_format", "seed",
                                    "factor", "scale", "fill_value", "value_range"})
    with pytest.raises(ValueError, match=r"RandomErasing.*factor.*\[0, 1\].*factor=1.5"):
        layers.RandomErasing(1.5)
    with pytest.raises(ValueError, match=r"RandomErasing.*scale.*scale=\(0.1, 0.2, 0.3\)"):
        layers.RandomErasing(scale=(0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match=r"RandomErasing.*fill_value.*fill_value=\(1, 2\)"):
        layers.RandomErasing(fill_value=(1, 2))
    with pytest.raises(ValueError, match=r"RandomErasing.*rank"):
        layers.RandomErasing(seed=1)(np.zeros((4, 4), "float32"))
