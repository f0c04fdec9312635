"""CategoryEncoding, Discretization, Resizing, CenterCrop and the random image layers
(RandomFlip, RandomCrop, RandomContrast, RandomBrightness, RandomTranslation, RandomZoom,
RandomRotation) against NumPy float64 references; the random layers by their semantics
(inference identity, ranges, what each image became) and seeds. Compiled parity is in
tests/debugging/parity_cases.py."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip

BASE_KEYS = {"name", "trainable", "dtype"}
IMAGE_KEYS = BASE_KEYS | {"data_format"}


def _images(*shape, seed=0, low=0.0, high=255.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def _one_hot(indices, depth):
    """NumPy reference: one-hot rows (indices out of range give zero rows)."""
    return (np.asarray(indices)[..., None] == np.arange(depth)).astype(np.float64)


# -- CategoryEncoding -----------------------------------------------------------------------

def test_category_encoding_modes_match_numpy():
    ids = np.array([[0, 1, 1, 4], [3, 3, 3, 2]])
    hot = _one_hot(ids, 5)
    multi = layers.CategoryEncoding(5, dtype="float64")
    np.testing.assert_array_equal(np.asarray(multi(ids)), hot.max(axis=1))
    count = layers.CategoryEncoding(5, output_mode="count", dtype="float64")
    np.testing.assert_array_equal(np.asarray(count(ids)), hot.sum(axis=1))
    one = layers.CategoryEncoding(5, output_mode="one_hot", dtype="float64")
    np.testing.assert_array_equal(np.asarray(one(ids[:, :1])), hot[:, 0])  # (b, 1) -> (b, 5)
    np.testing.assert_array_equal(np.asarray(one(ids[0])), hot[0])  # (4,) -> (4, 5)
    # A single sample (rank 1) is reduced over its only axis.
    np.testing.assert_array_equal(np.asarray(multi(ids[1])), hot[1].max(axis=0))
    assert one.compute_output_shape((None, 1)) == (None, 5)
    assert count.compute_output_shape((None, 4)) == (None, 5)


def test_category_encoding_count_weights():
    ids = np.array([[0, 2, 2], [1, 1, 0]])
    weights = np.array([[0.5, 1.5, 2.0], [0.25, 1.0, 3.0]])
    layer = layers.CategoryEncoding(3, output_mode="count", dtype="float64")
    expected = (_one_hot(ids, 3) * weights[..., None]).sum(axis=1)
    np.testing.assert_allclose(np.asarray(layer(ids, count_weights=weights)), expected)
    with pytest.raises(ValueError, match=r"CategoryEncoding.*count_weights.*output_mode="):
        layers.CategoryEncoding(3)(ids, count_weights=weights)


def test_category_encoding_arguments_and_config():
    with pytest.raises(ValueError, match=r"CategoryEncoding.*num_tokens.*Received: num_tokens=0"):
        layers.CategoryEncoding(0)
    with pytest.raises(ValueError, match=r"CategoryEncoding.*output_mode.*'tf_idf'"):
        layers.CategoryEncoding(3, output_mode="tf_idf")
    with pytest.raises(ValueError, match=r"CategoryEncoding.*sparse=False.*sparse=True"):
        layers.CategoryEncoding(3, sparse=True)
    assert layers.CategoryEncoding(3, output_mode="binary").output_mode == "multi_hot"
    assert_config_roundtrip(layers.CategoryEncoding(4, output_mode="count"),
                            BASE_KEYS | {"num_tokens", "output_mode"})


# -- Discretization -------------------------------------------------------------------------

def test_discretization_bins_match_numpy_digitize():
    bounds = [-1.0, 0.0, 0.5]
    x = np.array([[-3.0, -1.0, -0.5], [0.0, 0.25, 0.5], [0.75, np.nan, 9.0]])
    layer = layers.Discretization(bounds, dtype="float64")
    y = np.asarray(layer(x))
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, np.digitize(x, bounds))  # NaN: past the last bin


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_discretization_encodes_bins(mode):
    bounds = [-0.5, 0.5]
    x = np.random.default_rng(1).normal(size=(6, 4))
    hot = _one_hot(np.digitize(x, bounds), 3)
    expected = {"one_hot": hot, "multi_hot": hot.max(axis=1), "count": hot.sum(axis=1)}[mode]
    layer = layers.Discretization(bounds, output_mode=mode, dtype="float64")
    np.testing.assert_array_equal(np.asarray(layer(x)), expected)
    assert tuple(layer.compute_output_shape(x.shape)) == expected.shape


def test_discretization_adapt_learns_quantiles():
    x = np.random.default_rng(2).uniform(0.0, 10.0, size=5000)
    layer = layers.Discretization(num_bins=5, epsilon=0.01)
    layer.adapt(x)
    # Approximate quantiles: within epsilon (in rank) of the exact ones.
    ranks = np.searchsorted(np.sort(x), layer.bin_boundaries) / x.size
    np.testing.assert_allclose(ranks, [0.2, 0.4, 0.6, 0.8], atol=0.01)
    counts = np.bincount(np.asarray(layer(x)), minlength=5) / x.size
    np.testing.assert_allclose(counts, 0.2, atol=0.02)
    batched = layers.Discretization(num_bins=5, epsilon=0.01)
    batched.adapt([x[:1000], x[1000:]])
    np.testing.assert_allclose(batched.bin_boundaries, layer.bin_boundaries, atol=0.1)
    # An adapted layer's config holds both: from_config keeps the learned boundaries.
    restored = assert_config_roundtrip(
        layer, {"bin_boundaries", "num_bins", "epsilon", "output_mode", "sparse", "name",
                "dtype"})
    assert restored.bin_boundaries == layer.bin_boundaries


def test_discretization_symbolic_dtype_is_the_output_dtype():
    # The symbolic output (a model's output spec) has the dtype the call gives.
    x = np.array([[-1.0, 0.25, 2.0]], dtype="float32")
    for mode in ("int", "one_hot", "count"):
        layer = layers.Discretization([0.0, 1.0], output_mode=mode)
        inputs = gk.Input((3,))
        outputs = layer(inputs)
        assert outputs.dtype == np.asarray(layer(x)).dtype.name
        model = gk.Model(inputs, outputs)
        assert model.outputs[0].dtype == model.predict(x, verbose=0).dtype.name
    assert layers.Discretization([0.0])(gk.Input((3,))).dtype == "int32"


def test_discretization_arguments():
    with pytest.raises(ValueError, match=r"Discretization.*exactly one of.*num_bins=None"):
        layers.Discretization()
    with pytest.raises(ValueError, match=r"Discretization.*exactly one of.*num_bins=3"):
        layers.Discretization([0.0], num_bins=3)
    with pytest.raises(ValueError, match=r"Discretization.*output_mode.*'tf_idf'"):
        layers.Discretization([0.0], output_mode="tf_idf")
    with pytest.raises(ValueError, match=r"Discretization.*adapt.*bin_boundaries"):
        layers.Discretization([0.0]).adapt(np.zeros(3))
    with pytest.raises(ValueError, match=r"Discretization.*adapt\(\)"):
        layers.Discretization(num_bins=3)(np.zeros(3))


# -- Resizing -------------------------------------------------------------------------------

def _bilinear_reference(image, new_h, new_w):
    """Half-pixel-center bilinear interpolation of one (h, w, c) image, edges clamped,
    written per output pixel."""
    h, w = image.shape[:2]
    out = np.zeros((new_h, new_w, image.shape[2]))
    for i in range(new_h):
        y = min(max((i + 0.5) * h / new_h - 0.5, 0.0), h - 1)
        y0 = int(np.floor(y))
        y1, fy = min(y0 + 1, h - 1), y - y0
        for j in range(new_w):
            x = min(max((j + 0.5) * w / new_w - 0.5, 0.0), w - 1)
            x0 = int(np.floor(x))
            x1, fx = min(x0 + 1, w - 1), x - x0
            top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
            bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
            out[i, j] = top * (1 - fy) + bottom * fy
    return out


def _nearest_reference(image, new_h, new_w):
    rows = np.floor((np.arange(new_h) + 0.5) * image.shape[0] / new_h).astype(int)
    cols = np.floor((np.arange(new_w) + 0.5) * image.shape[1] / new_w).astype(int)
    return image[rows][:, cols]


@pytest.mark.parametrize("size", [(9, 11), (3, 4), (5, 13)])
def test_resizing_bilinear_and_nearest_match_numpy(size):
    x = _images(2, 5, 7, 3)
    bilinear = layers.Resizing(*size, dtype="float64")
    expected = np.stack([_bilinear_reference(im, *size) for im in x])
    np.testing.assert_allclose(np.asarray(bilinear(x)), expected, rtol=1e-12, atol=1e-10)
    nearest = layers.Resizing(*size, interpolation="nearest", dtype="float64")
    expected = np.stack([_nearest_reference(im, *size) for im in x])
    np.testing.assert_array_equal(np.asarray(nearest(x)), expected)
    assert bilinear.compute_output_shape((None, 5, 7, 3)) == (None,) + size + (3,)


def test_resizing_data_formats_and_unbatched():
    x = _images(2, 6, 5, 3)
    expected = np.stack([_bilinear_reference(im, 4, 3) for im in x])
    first = layers.Resizing(4, 3, data_format="channels_first", dtype="float64")
    y = np.asarray(first(np.transpose(x, (0, 3, 1, 2))))
    np.testing.assert_allclose(np.transpose(y, (0, 2, 3, 1)), expected, rtol=1e-12)
    single = layers.Resizing(4, 3, dtype="float64")
    np.testing.assert_allclose(np.asarray(single(x[1])), expected[1], rtol=1e-12)


def test_resizing_crop_and_pad_to_aspect_ratio():
    x = _images(1, 6, 10, 2)
    # crop: the centered 6x6 box (of the target's 1:1 ratio), then resized.
    cropped = layers.Resizing(3, 3, crop_to_aspect_ratio=True, dtype="float64")
    expected = _bilinear_reference(x[0, :, 2:8], 3, 3)
    np.testing.assert_allclose(np.asarray(cropped(x))[0], expected, rtol=1e-12)
    # pad: 2 rows of fill_value above and below (6x10 -> 10x10), then resized.
    padded = layers.Resizing(5, 5, pad_to_aspect_ratio=True, fill_value=7.0, dtype="float64")
    box = np.pad(x[0], ((2, 2), (0, 0), (0, 0)), constant_values=7.0)
    np.testing.assert_allclose(np.asarray(padded(x))[0], _bilinear_reference(box, 5, 5),
                               rtol=1e-12)


def test_resizing_keeps_integer_images_rounded():
    x = np.round(_images(1, 4, 4, 1)).astype(np.uint8)
    y = np.asarray(layers.Resizing(3, 5)(x))
    assert y.dtype == np.uint8
    expected = np.clip(np.round(_bilinear_reference(x[0].astype(np.float64), 3, 5)), 0, 255)
    assert np.abs(y[0].astype(int) - expected).max() <= 1  # float32 rounding at .5 ties


def test_resizing_arguments_and_config():
    with pytest.raises(ValueError, match=r"Resizing.*interpolation.*'bicubic'"):
        layers.Resizing(2, 2, interpolation="bicubic")
    with pytest.raises(ValueError, match=r"Resizing.*crop_to_aspect_ratio.*pad_to_aspect"):
        layers.Resizing(2, 2, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(ValueError, match=r"Resizing.*height.*Received: height=0"):
        layers.Resizing(0, 2)
    with pytest.raises(ValueError, match=r"Resizing.*rank 3.*4.*inputs.shape=\(4, 4\)"):
        layers.Resizing(2, 2)(np.zeros((4, 4)))
    assert_config_roundtrip(
        layers.Resizing(3, 4, interpolation="nearest", pad_to_aspect_ratio=True),
        IMAGE_KEYS | {"height", "width", "interpolation", "crop_to_aspect_ratio",
                      "pad_to_aspect_ratio", "fill_mode", "fill_value", "antialias"})


# -- CenterCrop -----------------------------------------------------------------------------

def test_center_crop_slices_the_center():
    x = _images(2, 7, 8, 3)
    layer = layers.CenterCrop(4, 5, dtype="float64")
    np.testing.assert_array_equal(np.asarray(layer(x)), x[:, 1:5, 1:6])
    np.testing.assert_array_equal(np.asarray(layer(x[0])), x[0, 1:5, 1:6])
    first = layers.CenterCrop(4, 5, data_format="channels_first", dtype="float64")
    x_first = np.transpose(x, (0, 3, 1, 2))
    np.testing.assert_array_equal(np.asarray(first(x_first)), x_first[:, :, 1:5, 1:6])


def test_center_crop_resizes_images_smaller_than_the_box():
    x = _images(1, 4, 9, 2)
    # 4x9 into 6x3: the 4x2 box of ratio 2:1 at column 3, resized to 6x3 (Keras's
    # smart_resize).
    y = np.asarray(layers.CenterCrop(6, 3, dtype="float64")(x))
    np.testing.assert_allclose(y[0], _bilinear_reference(x[0, :, 3:5], 6, 3), rtol=1e-12)


def test_center_crop_config():
    assert_config_roundtrip(layers.CenterCrop(2, 3), IMAGE_KEYS | {"height", "width"})
    with pytest.raises(ValueError, match=r"CenterCrop.*width.*Received: width=-1"):
        layers.CenterCrop(2, -1)


# -- random image layers --------------------------------------------------------------------

RANDOM_LAYERS = [
    lambda seed: layers.RandomFlip(seed=seed),
    lambda seed: layers.RandomCrop(3, 4, seed=seed),
    lambda seed: layers.RandomContrast(0.5, seed=seed),
    lambda seed: layers.RandomBrightness(0.3, seed=seed),
    lambda seed: layers.RandomTranslation(0.3, 0.3, seed=seed),
    lambda seed: layers.RandomZoom(0.3, seed=seed),
    lambda seed: layers.RandomRotation(0.2, seed=seed),
]


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_random_layers_identity_at_inference_and_seeded(make):
    x = _images(8, 6, 7, 3).astype("float32")
    layer = make(3)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    first = np.asarray(layer(x, training=True))
    again = np.asarray(make(3)(x, training=True))
    np.testing.assert_array_equal(first, again)  # same seed, same output
    # As Keras's augmentation layers, a bare call augments (training defaults to True).
    np.testing.assert_array_equal(np.asarray(make(3)(x)), first)
    later = [np.asarray(layer(x, training=True)) for _ in range(3)]
    assert any(not np.array_equal(first, y) for y in later)  # the generator advances
    assert len(layer.non_trainable_variables) == 1 and layer.weights == []


@pytest.mark.parametrize("mode, flip", [("horizontal", lambda im: im[:, ::-1]),
                                        ("vertical", lambda im: im[::-1]),
                                        ("horizontal_and_vertical", lambda im: im[::-1, ::-1])])
def test_random_flip_flips_about_half_the_images(mode, flip):
    x = _images(400, 3, 4, 2)
    y = np.asarray(layers.RandomFlip(mode, seed=1, dtype="float64")(x, training=True))
    flipped = np.array([np.array_equal(b, flip(a)) for a, b in zip(x, y)])
    kept = np.array([np.array_equal(b, a) for a, b in zip(x, y)])
    assert (flipped ^ kept).all()  # every image is exactly one of the two
    assert 0.4 < flipped.mean() < 0.6
    one = np.asarray(layers.RandomFlip(mode, seed=2, dtype="float64")(x[0], training=True))
    assert np.array_equal(one, x[0]) or np.array_equal(one, flip(x[0]))


def test_random_flip_channels_first_and_config():
    x = _images(50, 2, 3, 4)  # (b, c, h, w)
    y = np.asarray(layers.RandomFlip("horizontal", data_format="channels_first",
                                     seed=3, dtype="float64")(x, training=True))
    assert all(np.array_equal(b, a) or np.array_equal(b, a[:, :, ::-1]) for a, b in zip(x, y))
    assert_config_roundtrip(layers.RandomFlip("vertical", seed=4),
                            IMAGE_KEYS | {"mode", "seed"})
    with pytest.raises(ValueError, match=r"RandomFlip.*mode.*Received: mode='diagonal'"):
        layers.RandomFlip("diagonal")


def test_random_crop_takes_uniform_windows():
    x = _images(2, 5, 6, 1)
    layer = layers.RandomCrop(3, 4, seed=5, dtype="float64")
    seen = set()
    for _ in range(200):
        y = np.asarray(layer(x, training=True))
        assert y.shape == (2, 3, 4, 1)
        offsets = [(i, j) for i in range(3) for j in range(3)
                   if np.array_equal(y, x[:, i:i + 3, j:j + 4])]
        assert len(offsets) == 1  # one window, the same for the whole batch
        seen.add(offsets[0])
    assert seen == {(i, j) for i in range(3) for j in range(3)}
    assert layer.compute_output_shape((None, 5, 6, 1)) == (None, 3, 4, 1)


def test_random_crop_without_room_takes_the_aspect_box():
    x = _images(1, 5, 8, 1)
    # Height equal to the box: no random room, so Keras's centered box of the ratio 5:4.
    y = np.asarray(layers.RandomCrop(5, 4, seed=6, dtype="float64")(x, training=True))
    np.testing.assert_array_equal(y, x[:, :, 2:6])
    # Smaller than the box: the centered 5x5 box (the 1:1 ratio), resized up (bilinear).
    small = np.asarray(layers.RandomCrop(6, 6, seed=6, dtype="float64")(x, training=True))
    np.testing.assert_allclose(small[0], _bilinear_reference(x[0, :, 1:6], 6, 6), rtol=1e-12)


def test_random_crop_config_draws_a_seed():
    config = assert_config_roundtrip(layers.RandomCrop(2, 3),
                                     IMAGE_KEYS | {"height", "width", "seed"}).get_config()
    assert isinstance(config["seed"], int)


def _per_image_ratio(x, y):
    """(y - mean) / (x - mean) per image, with the per-channel means over h and w."""
    mean_x = x.mean(axis=(1, 2), keepdims=True)
    mean_y = y.mean(axis=(1, 2), keepdims=True)
    return (y - mean_y) / (x - mean_x)


def test_random_contrast_scales_deviations_within_the_factor():
    x = _images(300, 4, 5, 3, low=100.0, high=150.0)  # no clipping in (0, 255)
    y = np.asarray(layers.RandomContrast((0.2, 0.5), seed=7, dtype="float64")(x, training=True))
    ratio = _per_image_ratio(x, y)
    factor = ratio[:, :1, :1, :1]
    np.testing.assert_allclose(ratio, np.broadcast_to(factor, ratio.shape), rtol=1e-6)
    np.testing.assert_allclose(y.mean(axis=(1, 2)), x.mean(axis=(1, 2)), rtol=1e-12)
    assert factor.min() >= 0.8 and factor.max() < 1.5 and factor.std() > 0.1
    # One number f is (0, f) in Keras: the contrast only rises.
    rising = layers.RandomContrast(0.3, seed=8, dtype="float64")
    assert rising.factor == (0, 0.3)
    factor = _per_image_ratio(x, np.asarray(rising(x, training=True)))[:, 0, 0, 0]
    assert factor.min() >= 1.0 and factor.max() < 1.3


def test_random_contrast_clips_and_validates():
    x = _images(20, 4, 4, 1, low=-1.0, high=1.0)
    y = np.asarray(layers.RandomContrast((0.0, 1.0), value_range=(-0.5, 0.5),
                                         seed=9)(x.astype("float32"), training=True))
    assert y.min() >= -0.5 and y.max() <= 0.5
    with pytest.raises(ValueError, match=r"RandomContrast.*factor.*\[0, 1\].*factor=1.5"):
        layers.RandomContrast(1.5)
    assert_config_roundtrip(layers.RandomContrast(0.2, seed=1),
                            IMAGE_KEYS | {"factor", "value_range", "seed"})


def test_random_brightness_adds_one_offset_per_image():
    x = _images(300, 3, 4, 3, low=80.0, high=170.0)
    layer = layers.RandomBrightness((-0.1, 0.2), seed=10, dtype="float64")
    delta = np.asarray(layer(x, training=True)) - x
    per_image = delta[:, :1, :1, :1]
    np.testing.assert_allclose(delta, np.broadcast_to(per_image, delta.shape), atol=1e-9)
    assert per_image.min() >= -25.5 and per_image.max() < 51.0  # factor * 255
    assert per_image.std() > 10
    clipped = layers.RandomBrightness(1.0, value_range=(1, 0), seed=11)
    assert clipped.value_range == [0, 1]  # sorted, as Keras
    y = np.asarray(clipped(_images(10, 2, 2, 1, high=1.0).astype("float32"), training=True))
    assert y.min() >= 0.0 and y.max() <= 1.0


def test_random_brightness_validates_and_config():
    with pytest.raises(ValueError, match=r"RandomBrightness.*factor.*Received: factor=\(1, 2, 3\)"):
        layers.RandomBrightness((1, 2, 3))
    with pytest.raises(ValueError, match=r"RandomBrightness.*value_range.*value_range=5"):
        layers.RandomBrightness(0.1, value_range=5)
    assert_config_roundtrip(layers.RandomBrightness(0.2, seed=1),
                            IMAGE_KEYS | {"factor", "value_range", "seed"})


# -- RandomTranslation, RandomZoom, RandomRotation: degenerate ranges make them exact ------

def _fixed_index(i, n, mode):
    """The fill modes' rules for an integer index outside [0, n) (None: the fill value)."""
    if mode == "wrap":
        return i % n
    if mode == "nearest":
        return min(max(i, 0), n - 1)
    if mode == "constant":
        return i if 0 <= i < n else None
    while not 0 <= i < n:  # reflect: d c b a | a b c d | d c b a
        i = -i - 1 if i < 0 else 2 * n - 1 - i
    return i


def _sample_reference(image, rows, cols, mode, interpolation, fill=0.0):
    """One (h, w, c) image sampled at float points (rows, cols), per output pixel."""
    h, w, c = image.shape
    out = np.zeros(rows.shape + (c,))
    for p in np.ndindex(rows.shape):
        if interpolation == "nearest":
            nodes = [(int(np.sign(rows[p]) * np.floor(abs(rows[p]) + 0.5)),
                      int(np.sign(cols[p]) * np.floor(abs(cols[p]) + 0.5)), 1.0)]
        else:
            r0, c0 = int(np.floor(rows[p])), int(np.floor(cols[p]))
            fr, fc = rows[p] - r0, cols[p] - c0
            nodes = [(r0, c0, (1 - fr) * (1 - fc)), (r0, c0 + 1, (1 - fr) * fc),
                     (r0 + 1, c0, fr * (1 - fc)), (r0 + 1, c0 + 1, fr * fc)]
        for r, q, weight in nodes:
            r, q = _fixed_index(r, h, mode), _fixed_index(q, w, mode)
            out[p] += weight * (fill if r is None or q is None else image[r, q])
    return out


@pytest.mark.parametrize("fill_mode, pad_mode", [("reflect", "symmetric"), ("wrap", "wrap"),
                                                 ("nearest", "edge"),
                                                 ("constant", "constant")])
def test_random_translation_shifts_whole_pixels_and_fills(fill_mode, pad_mode):
    x = _images(2, 8, 10, 2)
    # 0.25 of 8 rows down, 0.2 of 10 columns left: (2, -2) pixels.
    layer = layers.RandomTranslation((0.25, 0.25), (-0.2, -0.2), fill_mode=fill_mode,
                                     fill_value=0.0, seed=1, dtype="float64")
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode=pad_mode)
    np.testing.assert_allclose(np.asarray(layer(x, training=True)), padded[:, 0:8, 4:14],
                               atol=1e-9)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_random_zoom_and_rotation_match_a_numpy_sampler(interpolation):
    x = _images(1, 6, 7, 2)
    ys, xs = np.mgrid[0:6, 0:7].astype(np.float64)
    zoom = layers.RandomZoom((-0.5, -0.5), (0.2, 0.2), fill_mode="constant",
                             interpolation=interpolation, fill_value=3.0, dtype="float64")
    rows, cols = 0.5 * ys + 2.5 * 0.5, 1.2 * xs + 3.0 * (1 - 1.2)  # about the center
    np.testing.assert_allclose(np.asarray(zoom(x, training=True))[0],
                               _sample_reference(x[0], rows, cols, "constant", interpolation,
                                                 3.0), atol=1e-9)
    rotation = layers.RandomRotation((0.125, 0.125), interpolation=interpolation,
                                     dtype="float64")  # 45 degrees
    cos, sin = np.cos(np.pi / 4), np.sin(np.pi / 4)
    cy, cx = 2.5, 3.0
    rows = sin * (xs - cx) + cos * (ys - cy) + cy
    cols = cos * (xs - cx) - sin * (ys - cy) + cx
    np.testing.assert_allclose(np.asarray(rotation(x, training=True))[0],
                               _sample_reference(x[0], rows, cols, "reflect", interpolation),
                               atol=1e-9)


def test_random_rotation_by_half_a_turn_flips_both_axes():
    x = _images(2, 3, 5, 1)
    layer = layers.RandomRotation((0.5, 0.5), interpolation="nearest",
                                  data_format="channels_first", dtype="float64")
    np.testing.assert_array_equal(np.asarray(layer(x, training=True)), x[:, :, ::-1, ::-1])


def test_random_affine_draws_stay_in_their_ranges():
    translation = layers.RandomTranslation((-0.2, 0.1), 0.3, seed=2, dtype="float64")
    _, _, minus_dx, _, _, minus_dy = (np.asarray(v) for v in translation.matrix(2000, 10, 20))
    dx, dy = -minus_dx, -minus_dy  # the matrix maps outputs back: it holds -shift
    assert dy.min() >= -2.0 and dy.max() < 1.0 and dx.min() >= -6.0 and dx.max() < 6.0
    assert dx.std() > 2.5 and dy.std() > 0.6
    zoom = layers.RandomZoom(0.5, seed=3, dtype="float64")
    zoom_x, _, _, _, zoom_y, _ = (np.asarray(v) for v in zoom.matrix(2000, 10, 20))
    np.testing.assert_array_equal(zoom_x, zoom_y)  # no width_factor: one zoom for both
    assert zoom_x.min() >= 0.5 and zoom_x.max() < 1.5 and zoom_x.std() > 0.2
    rotation = layers.RandomRotation(0.1, seed=4, dtype="float64")
    cos, _, _, sin, _, _ = (np.asarray(v) for v in rotation.matrix(2000, 10, 20))
    degrees = np.degrees(np.arctan2(sin, cos))
    assert degrees.min() >= -36.0 and degrees.max() < 36.0 and degrees.std() > 15


def test_random_affine_arguments_and_configs():
    with pytest.raises(ValueError, match=r"RandomTranslation.*width_factor.*\[-1.0, 1.0\]"):
        layers.RandomTranslation(0.1, 1.5)
    with pytest.raises(ValueError, match=r"RandomZoom.*height_factor.*\(-1.0, 1.0\]"):
        layers.RandomZoom(-1.0)
    with pytest.raises(ValueError, match=r"RandomRotation.*fill_mode.*fill_mode='mirror'"):
        layers.RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match=r"RandomZoom.*interpolation.*'bicubic'"):
        layers.RandomZoom(0.1, interpolation="bicubic")
    shared = IMAGE_KEYS | {"fill_mode", "interpolation", "seed", "fill_value"}
    assert_config_roundtrip(layers.RandomTranslation(0.1, (0.0, 0.2), seed=1),
                            shared | {"height_factor", "width_factor"})
    assert_config_roundtrip(layers.RandomZoom(0.1, fill_mode="wrap"),
                            shared | {"height_factor", "width_factor"})
    assert_config_roundtrip(layers.RandomRotation(0.1, interpolation="nearest"),
                            shared | {"factor"})


def test_preprocessing_in_a_model_trains_with_augmentation():
    model = gk.Sequential([layers.Input((6, 6, 1)), layers.RandomFlip(seed=1),
                           layers.RandomBrightness(0.1, value_range=(0, 1), seed=2),
                           layers.Resizing(4, 4), layers.Flatten(), layers.Dense(1)])
    x = _images(8, 6, 6, 1, high=1.0).astype("float32")
    inference = np.asarray(model(x, training=False))
    np.testing.assert_allclose(model.predict(x, verbose=0), inference, rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(model(x, training=True)), inference)
    assert not np.allclose(np.asarray(model(x)), inference)  # a bare call augments, as Keras
