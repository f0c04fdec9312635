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


def test_cutmix_pastes_one_box_and_mixes_labels_by_the_area_kept():
    x, y = _batch()
    out = layers.CutMix(factor=1.0, seed=4)({"images": x, "labels": y})
    images, labels = out["images"].numpy(), out["labels"].numpy()
    # rebuild the draw from the same stream: alpha, weights, x bounds, y bounds, order
    gen = gk.random.SeedGenerator(4)
    alpha = float(gk.random.uniform((), 0.0, 1.0, seed=gen).numpy()) + 1e-6
    weight = gk.random.beta((6,), alpha, alpha, seed=gen).numpy()
    ratio = np.sqrt(1.0 - weight)
    bounds = []
    for length in (4, 4):  # width, then height
        size = ratio * np.float32(length)
        start = gk.random.uniform((6,), 0.0, 1.0, seed=gen).numpy() * (length - size)
        bounds.append((start, start + size))
    order = gk.random.shuffle(np.arange(6), seed=gen).numpy()
    (x0, x1), (y0, y1) = bounds
    cols, rows = np.arange(4)[None, None, :], np.arange(4)[None, :, None]
    inside = ((cols >= x0[:, None, None]) & (cols < x1[:, None, None])
              & (rows >= y0[:, None, None]) & (rows < y1[:, None, None]))[..., None]
    np.testing.assert_array_equal(images, np.where(inside, x[order], x))
    kept = (1.0 - (x1 - x0) * (y1 - y0) / 16.0)[:, None]
    np.testing.assert_allclose(labels, kept * y + (1 - kept) * y[order], rtol=1e-5,
                               atol=1e-6)


def test_cutmix_channels_first_inference_and_config():
    x, _ = _batch()
    xc = np.transpose(x, (0, 3, 1, 2))
    layer = layers.CutMix(factor=(0.2, 0.8), data_format="channels_first", seed=2)
    out = layer(xc).numpy()
    assert out.shape == xc.shape
    # every pixel comes from the image itself or from one other image of the batch
    assert all(np.isin(out[i], xc).all() for i in range(6))
    np.testing.assert_array_equal(np.asarray(layer(xc, training=False)), xc)
    config = layer.get_config()
    assert config["factor"] == (0.2, 0.8) and config["data_format"] == "channels_first"
    with pytest.raises(ValueError, match="CutMix .*`factor`"):
        layers.CutMix(factor=2.0)
