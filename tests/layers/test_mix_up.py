"""MixUp: images and labels blended with a permutation of the batch, weights from
Beta(alpha, alpha), as Keras 3."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers

RNG = np.random.default_rng(11)


def _batch():
    x = RNG.random((6, 4, 4, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]
    return x, y


def test_images_and_labels_are_the_same_blend_of_a_permutation():
    x, y = _batch()
    out = layers.MixUp(alpha=0.4, seed=3)({"images": x, "labels": y})
    images, labels = out["images"].numpy(), out["labels"].numpy()
    # rebuild the draw: the same stream gives the permutation, then the weights
    gen = gk.random.SeedGenerator(3)
    order = gk.random.shuffle(np.arange(6), seed=gen).numpy()
    weight = gk.random.beta((6,), 0.4, 0.4, seed=gen).numpy().astype(np.float64)
    w4 = weight[:, None, None, None]
    np.testing.assert_allclose(images, w4 * x + (1 - w4) * x[order], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(labels, weight[:, None] * y + (1 - weight[:, None]) * y[order],
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-6)
    assert sorted(order.tolist()) == list(range(6))


def test_images_alone_and_inference_mode():
    x, _ = _batch()
    layer = layers.MixUp(seed=1)
    assert layer(x).shape == x.shape
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


def test_seeded_layers_repeat_and_config_round_trips():
    x, y = _batch()
    a = layers.MixUp(alpha=0.3, seed=5)({"images": x, "labels": y})["images"].numpy()
    b = layers.MixUp(alpha=0.3, seed=5)({"images": x, "labels": y})["images"].numpy()
    np.testing.assert_array_equal(a, b)
    config = layers.MixUp(alpha=0.3, seed=5).get_config()
    assert config["alpha"] == 0.3 and config["seed"] == 5
    assert layers.MixUp.from_config(config).alpha == 0.3


def test_bad_arguments_name_the_layer():
    with pytest.raises(ValueError, match="MixUp .*`alpha` must be a positive number"):
        layers.MixUp(alpha=0.0)
    with pytest.raises(ValueError, match="MixUp .*rank 3"):
        layers.MixUp()(np.zeros((2, 3), np.float32))
