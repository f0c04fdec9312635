"""The color augmentation layers (RandomGrayscale, RandomInvert, Solarization,
RandomPosterization, RandomColorDegeneration, RandomSaturation, RandomHue,
RandomSharpness) against NumPy float64 references of Keras's
math: deterministic settings exactly, random ones by what each image became and the range
of the draws. Compiled parity is in tests/debugging/parity_cases.py."""
import numpy as np
import pytest

from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip

IMAGE_KEYS = {"name", "trainable", "dtype", "data_format", "seed"}
LUMA = np.array([0.2989, 0.5870, 0.1140])


def _images(*shape, seed=0, low=0.0, high=255.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def _gray(x, axis=-1):
    """NumPy reference: Keras's rgb_to_grayscale, the luma repeated over the channels."""
    luma = np.tensordot(np.moveaxis(x, axis, -1), LUMA, axes=(-1, 0))[..., None]
    return np.moveaxis(np.broadcast_to(luma, np.moveaxis(x, axis, -1).shape), -1, axis)


def _run(layer, x):
    return np.asarray(layer(x, training=True))


COLOR_LAYERS = [
    lambda seed: layers.RandomGrayscale(0.5, seed=seed),
    lambda seed: layers.RandomInvert(0.5, seed=seed),
    lambda seed: layers.Solarization(0.5, 0.5, seed=seed),
    lambda seed: layers.RandomPosterization((1, 8), seed=seed),
    lambda seed: layers.RandomColorDegeneration(0.5, seed=seed),
    lambda seed: layers.RandomSaturation(0.5, seed=seed),
    lambda seed: layers.RandomHue(0.5, seed=seed),
    lambda seed: layers.RandomSharpness(0.5, seed=seed),
]


@pytest.mark.parametrize("make", COLOR_LAYERS)
def test_color_layers_identity_at_inference_and_seeded(make):
    x = _images(8, 5, 6, 3).astype("float32")
    layer = make(3)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    first = _run(layer, x)
    np.testing.assert_array_equal(_run(make(3), x), first)  # same seed, same output
    np.testing.assert_array_equal(np.asarray(make(3)(x)), first)  # training defaults to True
    later = [_run(layer, x) for _ in range(3)]
    assert any(not np.array_equal(first, y) for y in later)  # the generator advances
    assert len(layer.non_trainable_variables) == 1 and layer.weights == []
    assert layer.compute_output_shape((None, 5, 6, 3)) == (None, 5, 6, 3)
    assert _run(make(4), x[0]).shape == x[0].shape  # one unbatched image


@pytest.mark.parametrize("make, keys", [
    (lambda: layers.RandomGrayscale(0.3, seed=1), {"factor"}),
    (lambda: layers.RandomInvert(0.3, value_range=(0, 1)), {"factor", "value_range"}),
    (lambda: layers.Solarization(0.2, (0.1, 0.4)),
     {"addition_factor", "threshold_factor", "value_range"}),
    (lambda: layers.RandomPosterization(4, seed=2), {"factor", "value_range"}),
    (lambda: layers.RandomColorDegeneration(0.4), {"factor", "value_range"}),
    (lambda: layers.RandomSaturation((0.2, 0.7), seed=3), {"factor", "value_range"}),
    (lambda: layers.RandomHue(0.3, value_range=(0, 1)), {"factor", "value_range"}),
    (lambda: layers.RandomSharpness((0.2, 0.4)), {"factor", "value_range"}),
])
def test_color_layers_config_roundtrip(make, keys):
    assert_config_roundtrip(make(), IMAGE_KEYS | keys)


# -- RandomGrayscale ---------------------------------------------------------------------

def test_random_grayscale_luma_weights():
    x = _images(3, 4, 5, 3)
    np.testing.assert_allclose(_run(layers.RandomGrayscale(1.0, dtype="float64"), x),
                               _gray(x), rtol=1e-12)
    first = _images(3, 3, 4, 5)  # channels_first
    y = _run(layers.RandomGrayscale(1.0, data_format="channels_first", dtype="float64"), first)
    np.testing.assert_allclose(y, _gray(first, axis=1), rtol=1e-12)
    np.testing.assert_array_equal(_run(layers.RandomGrayscale(0.0, dtype="float64"), x), x)
    one = _images(2, 4, 4, 1)  # grayscale already: unchanged
    np.testing.assert_array_equal(_run(layers.RandomGrayscale(1.0, dtype="float64"), one), one)


def test_random_grayscale_converts_with_probability_factor():
    x = _images(2000, 2, 2, 3)
    y = _run(layers.RandomGrayscale(0.3, seed=5, dtype="float64"), x)
    gray = np.array([np.allclose(b, g) for b, g in zip(y, _gray(x))])
    kept = np.array([np.array_equal(b, a) for a, b in zip(x, y)])
    assert (gray ^ kept).all()
    assert 0.26 < gray.mean() < 0.34


def test_random_grayscale_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"RandomGrayscale.*factor.*Received: factor=1.5"):
        layers.RandomGrayscale(1.5)
    with pytest.raises(ValueError, match=r"RandomGrayscale.*channels.*inputs.shape=\(2, 3, 3, 2\)"):
        layers.RandomGrayscale(seed=1)(np.zeros((2, 3, 3, 2), "float32"))
    with pytest.raises(ValueError, match=r"RandomGrayscale.*rank"):
        layers.RandomGrayscale(seed=1)(np.zeros((3, 3), "float32"))


# -- RandomInvert ------------------------------------------------------------------------

def test_random_invert_subtracts_from_the_top_of_the_range():
    x = _images(3, 4, 4, 3)
    np.testing.assert_array_equal(_run(layers.RandomInvert((1, 1), dtype="float64"), x),
                                  255.0 - x)
    unit = x / 255
    y = _run(layers.RandomInvert((1, 1), value_range=(0, 1), dtype="float64"), unit)
    np.testing.assert_array_equal(y, 1.0 - unit)
    np.testing.assert_array_equal(_run(layers.RandomInvert(0.0, dtype="float64"), x), x)


def test_random_invert_rate_is_the_mean_probability():
    # p ~ U[0.2, 0.6), inverted when t ~ U[0, 1) < p: the rate is E[p] = 0.4.
    layer = layers.RandomInvert((0.6, 0.2), seed=6, dtype="float64")
    assert layer.factor == (0.2, 0.6)
    y = _run(layer, np.zeros((4000, 1, 1, 1)))
    assert set(np.unique(y)) <= {0.0, 255.0}
    assert 0.37 < (y == 255).mean() < 0.43
    assert layers.RandomInvert(0.5).factor == (0, 0.5)


def test_random_invert_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"RandomInvert.*factor.*\[0, 1\].*factor=2"):
        layers.RandomInvert(2)


# -- Solarization ------------------------------------------------------------------------

def _solarize(x, addition, threshold):
    """NumPy reference on the 0-255 scale."""
    y = np.clip(x + addition, 0, 255)
    return np.where(y < threshold, y, 255 - y)


def test_solarization_defaults_invert_everything():
    x = _images(2, 3, 4, 3)
    np.testing.assert_array_equal(_run(layers.Solarization(dtype="float64"), x), 255 - x)


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (-1, 1)])
def test_solarization_adds_one_offset_per_image(value_range):
    # With threshold 0 every value is inverted, so 255 - output - input is the offset.
    low, high = value_range
    pixels = _images(300, 3, 4, 3, high=150.0)  # + offset < 255: no clipping
    layer = layers.Solarization((0.1, 0.4), 0.0, value_range=value_range, seed=7,
                                dtype="float64")
    y = (_run(layer, pixels / 255 * (high - low) + low) - low) / (high - low) * 255
    offset = 255 - y - pixels
    per_image = offset[:, :1, :1, :1]
    np.testing.assert_allclose(offset, np.broadcast_to(per_image, offset.shape), atol=1e-9)
    # As Keras: drawn from [lower, 255 * upper), only the upper end scaled to pixels.
    assert per_image.min() >= 0.1 and per_image.max() < 0.4 * 255
    assert per_image.min() < 5 and per_image.max() > 90


def test_solarization_inverts_at_and_above_the_threshold():
    # Each image holds every whole value 0..254 (offset 0): the values kept are exactly
    # those below one threshold, and the rest become 255 - value.
    values = np.arange(255.0).reshape(1, 15, 17, 1)
    x = np.repeat(values, 200, axis=0)
    y = _run(layers.Solarization(0.0, (0.2, 0.6), seed=9, dtype="float64"), x)
    thresholds = []
    for p, q in zip(x, y):
        kept = q == p
        threshold = p[~kept].min() if (~kept).any() else 255.0
        np.testing.assert_array_equal(q, np.where(p < threshold, p, 255 - p))
        thresholds.append(threshold)
    # whole values: the drawn threshold t in [0.2, 153) shows as ceil(t)
    assert min(thresholds) >= 1 and max(thresholds) <= 153 and np.std(thresholds) > 20


def test_solarization_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"Solarization.*addition_factor.*\[0, 1\].*=1.5"):
        layers.Solarization(1.5)
    with pytest.raises(ValueError, match=r"Solarization.*threshold_factor.*=\(0.1, 2\)"):
        layers.Solarization(0.1, (0.1, 2))
    with pytest.raises(ValueError, match=r"Solarization.*value_range.*value_range=1"):
        layers.Solarization(value_range=1)


# -- RandomPosterization -----------------------------------------------------------------

def _posterize(pixels, bits):
    """NumPy reference: Keras's uint8 shifts, keeping the `bits` leading bits."""
    shift = 8 - bits
    return ((pixels.astype(np.uint8) >> shift) << shift).astype(np.float64)


@pytest.mark.parametrize("bits", [1, 3, 5, 8])
def test_random_posterization_keeps_the_leading_bits(bits):
    x = _images(3, 4, 5, 3)
    y = _run(layers.RandomPosterization((bits, bits), dtype="float64"), x)
    np.testing.assert_array_equal(y, _posterize(x, bits))


def test_random_posterization_in_other_value_ranges():
    pixels = _images(3, 4, 5, 3)
    for low, high in [(0, 1), (-1, 1)]:
        x = pixels / 255 * (high - low) + low
        y = _run(layers.RandomPosterization((4, 4), value_range=(low, high),
                                            dtype="float64"), x)
        expected = _posterize((x - low) / (high - low) * 255, 4) / 255 * (high - low) + low
        np.testing.assert_allclose(y, expected, atol=1e-12)


def test_random_posterization_draws_bits_as_randint():
    # A 255 image keeps 2**8 - 2**(8 - bits): bits uniform over [2, 6), 6 excluded.
    layer = layers.RandomPosterization((6, 2), seed=10, dtype="float64")
    assert layer.factor == (2, 6)
    y = _run(layer, np.full((3000, 1, 1, 1), 255.0)).ravel()
    bits = 8 - np.log2(256 - y)
    counts = np.array([(bits == b).sum() for b in (2, 3, 4, 5)])
    assert counts.sum() == 3000 and counts.min() > 600
    assert layers.RandomPosterization(4).factor == (1, 4)  # a number f: (1, f)


def test_random_posterization_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"RandomPosterization.*factor.*\[1, 8\].*factor=9"):
        layers.RandomPosterization(9)
    with pytest.raises(ValueError, match=r"RandomPosterization.*value_range.*=\(0, 1, 2\)"):
        layers.RandomPosterization(4, value_range=(0, 1, 2))


# -- RandomColorDegeneration -------------------------------------------------------------

@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0, -0.7])
def test_random_color_degeneration_blends_toward_gray(weight):
    x = _images(3, 4, 5, 3)
    layer = layers.RandomColorDegeneration((weight, weight), dtype="float64")
    expected = np.clip(x + weight * (_gray(x) - x), 0, 255)
    np.testing.assert_allclose(_run(layer, x), expected, rtol=1e-12, atol=1e-12)


def test_random_color_degeneration_channels_first_and_range():
    x = _images(2, 3, 4, 5, high=1.0)
    layer = layers.RandomColorDegeneration((0.5, 0.5), value_range=(0, 1),
                                           data_format="channels_first", dtype="float64")
    np.testing.assert_allclose(_run(layer, x), x + 0.5 * (_gray(x, axis=1) - x), rtol=1e-12)
    # Pure red: its gray is 0.2989 * 100, so green reads the weight.
    red = np.tile([100.0, 0.0, 0.0], (3000, 1, 1, 1))
    green = _run(layers.RandomColorDegeneration((0.1, 0.9), seed=11, dtype="float64"),
                 red)[:, 0, 0, 1]
    weights = green / 29.89
    assert weights.min() >= 0.1 and weights.max() < 0.9 and weights.std() > 0.2
    assert layers.RandomColorDegeneration(0.4).factor == (-0.4, 0.4)


def test_random_color_degeneration_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"RandomColorDegeneration.*factor.*factor=\(0, 1, 2\)"):
        layers.RandomColorDegeneration((0, 1, 2))
    with pytest.raises(ValueError, match=r"RandomColorDegeneration.*channels"):
        layers.RandomColorDegeneration(0.5, seed=1)(np.zeros((1, 2, 2, 4), "float32"))


# -- RandomSaturation and RandomHue: RGB <-> HSV round trips -------------------------------

def _rgb_to_hsv(x):
    """NumPy reference: the textbook conversion (hue in turns, in [0, 1))."""
    r, g, b = np.moveaxis(x, -1, 0)
    value = x.max(axis=-1)
    spread = value - x.min(axis=-1)
    saturation = np.where(value > 0, spread / np.where(value > 0, value, 1), 0)
    safe = np.where(spread > 0, spread, 1)
    hue = np.select([spread == 0, value == r, value == g],
                    [0, ((g - b) / safe) % 6, (b - r) / safe + 2], (r - g) / safe + 4) / 6
    return np.stack([hue, saturation, value], axis=-1)


def _hsv_to_rgb(hsv):
    """NumPy reference: the sector formula."""
    h, s, v = np.moveaxis(hsv, -1, 0)
    sector = np.floor(h % 1 * 6).astype(int) % 6
    f = h % 1 * 6 - np.floor(h % 1 * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    return np.stack([np.choose(sector, [c[i] for c in choices]) for i in range(3)], axis=-1)


def test_hsv_helpers_match_the_references():
    from graphkit.layers.preprocessing import hsv
    x = _images(4, 5, 6, 3, high=1.0)
    x[0, 0, :4] = [[0.3, 0.3, 0.3], [0, 0, 0], [1, 0, 0], [0.5, 0.5, 0.1]]  # gray, red, ties
    converted = np.asarray(hsv.rgb_to_hsv(x, "channels_last"))
    np.testing.assert_allclose(converted, _rgb_to_hsv(x), atol=1e-12)
    np.testing.assert_allclose(np.asarray(hsv.hsv_to_rgb(converted, "channels_last")), x,
                               atol=1e-12)
    np.testing.assert_allclose(_hsv_to_rgb(_rgb_to_hsv(x)), x, atol=1e-12)
    first = np.moveaxis(x, -1, 1)
    np.testing.assert_allclose(np.asarray(hsv.rgb_to_hsv(first, "channels_first")),
                               np.moveaxis(_rgb_to_hsv(x), -1, 1), atol=1e-12)


def _saturated(x, scale, value_range=(0, 255)):
    """NumPy reference; Keras clips the scaled saturation to `value_range`."""
    hsv = _rgb_to_hsv(x)
    hsv[..., 1] = np.clip(hsv[..., 1] * scale, *value_range)
    return _hsv_to_rgb(hsv)


@pytest.mark.parametrize("u", [0.0, 0.3, 0.5, 0.8, -0.4])
def test_random_saturation_scales_the_saturation(u):
    x = _images(3, 4, 5, 3)
    layer = layers.RandomSaturation((u, u), dtype="float64")
    # Keras's map from the draw to the scale: 0.5 keeps the saturation.
    np.testing.assert_allclose(_run(layer, x), _saturated(x, u / (1 - u + 1e-7)),
                               atol=1e-9)


def test_random_saturation_channels_first_and_draws():
    x = _images(2, 3, 4, 5, high=1.0)
    layer = layers.RandomSaturation((0.7, 0.7), value_range=(0, 1),
                                    data_format="channels_first", dtype="float64")
    expected = np.moveaxis(_saturated(np.moveaxis(x, 1, -1), 0.7 / (0.3 + 1e-7), (0, 1)), -1, 1)
    np.testing.assert_allclose(_run(layer, x), expected, atol=1e-9)
    # One color, saturation 0.75: the output's saturation / 0.75 is u / (1 - u) per image.
    color = np.tile([200.0, 100.0, 50.0], (2000, 1, 1, 1))
    y = _run(layers.RandomSaturation((0.2, 0.6), seed=12, dtype="float64"), color)
    u = (s := _rgb_to_hsv(y)[:, 0, 0, 1] / 0.75) / (1 + s)
    assert u.min() >= 0.2 - 1e-9 and u.max() < 0.6 and u.std() > 0.1
    assert layers.RandomSaturation(0.4).factor == (-0.4, 0.4)


def test_random_saturation_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"RandomSaturation.*factor.*\[-1, 1\].*factor=2"):
        layers.RandomSaturation(2)
    with pytest.raises(ValueError, match=r"RandomSaturation.*3 \(RGB\) channels"):
        layers.RandomSaturation(0.5, seed=1)(np.zeros((1, 2, 2, 1), "float32"))


def _hue_shifted(x, shift, value_range=(0, 255)):
    low, high = value_range
    hsv = _rgb_to_hsv((x - low) / (high - low))
    hsv[..., 0] = (hsv[..., 0] + shift) % 1
    return np.clip(_hsv_to_rgb(hsv), 0, 1) * (high - low) + low


def test_random_hue_rotates_the_hue_by_half_the_amount():
    x = _images(40, 4, 5, 3)
    y = _run(layers.RandomHue((0.6, 0.6), seed=13, dtype="float64"), x)
    up, down = _hue_shifted(x, 0.3), _hue_shifted(x, -0.3)
    ups = np.array([np.allclose(b, e, atol=1e-9) for b, e in zip(y, up)])
    downs = np.array([np.allclose(b, e, atol=1e-9) for b, e in zip(y, down)])
    assert (ups ^ downs).all() and 0.2 < ups.mean() < 0.8  # each image one of the two signs
    np.testing.assert_allclose(_run(layers.RandomHue(0.0, dtype="float64"), x), x, atol=1e-9)


def test_random_hue_value_range_channels_first_and_draws():
    x = _images(2, 3, 4, 5, low=-1.0, high=1.0)
    layer = layers.RandomHue((0.0, 0.0), value_range=(-1, 1), data_format="channels_first",
                             dtype="float64")
    np.testing.assert_allclose(_run(layer, x), x, atol=1e-12)
    color = np.tile([200.0, 100.0, 50.0], (2000, 1, 1, 1))
    y = _run(layers.RandomHue((0.2, 0.6), seed=14, dtype="float64"), color)
    shift = (_rgb_to_hsv(y)[:, 0, 0, 0] - _rgb_to_hsv(color[:1])[0, 0, 0, 0] + 0.5) % 1 - 0.5
    assert np.abs(shift).min() >= 0.1 - 1e-9 and np.abs(shift).max() < 0.3
    assert 0.4 < (shift > 0).mean() < 0.6
    assert layers.RandomHue(0.4).factor == (0, 0.4)


def test_random_hue_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"RandomHue.*factor.*\[0, 1\].*factor=-0.5"):
        layers.RandomHue(-0.5)
    with pytest.raises(ValueError, match=r"RandomHue.*channels.*inputs.shape=\(2, 2, 2\)"):
        layers.RandomHue(0.5, seed=1)(np.zeros((2, 2, 2), "float32"))


# -- RandomSharpness ---------------------------------------------------------------------

def _smoothed(x):
    """NumPy reference: PIL's SMOOTH kernel per channel, zero padding ('same')."""
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13.0
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
    h, w = x.shape[1:3]
    return sum(kernel[i, j] * padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3))


@pytest.mark.parametrize("u", [0.0, 0.25, 0.8, 1.0])
def test_random_sharpness_blends_with_the_smoothed_image(u):
    x = _images(3, 5, 6, 3)
    y = _run(layers.RandomSharpness((u, u), dtype="float64"), x)
    expected = np.clip(x + (1 - 2 * u) * (_smoothed(x) - x), 0, 255)
    np.testing.assert_allclose(y, expected, atol=1e-9)


def test_random_sharpness_channels_first_unbatched_and_draws():
    x = _images(2, 4, 5, 2, high=1.0)
    layer = layers.RandomSharpness((0.9, 0.9), value_range=(0, 1),
                                   data_format="channels_first", dtype="float64")
    first = np.moveaxis(x, -1, 1)
    expected = np.clip(x + (1 - 1.8) * (_smoothed(x) - x), 0, 1)
    np.testing.assert_allclose(_run(layer, first), np.moveaxis(expected, -1, 1), atol=1e-12)
    one = _run(layers.RandomSharpness((0.9, 0.9), value_range=(0, 1), dtype="float64"), x[0])
    np.testing.assert_allclose(one, expected[0], atol=1e-12)
    # The blend weight 1 - 2u per image, read off an interior pixel of a spiky image.
    spikes = np.zeros((2000, 3, 3, 1))
    spikes[:, 1, 1] = 13.0
    y = _run(layers.RandomSharpness((0.2, 0.6), value_range=(-100, 100), seed=15,
                                    dtype="float64"), spikes)
    u = (1 - (y[:, 1, 1, 0] - 13.0) / (5.0 - 13.0)) / 2
    assert u.min() >= 0.2 - 1e-9 and u.max() < 0.6 and u.std() > 0.1


def test_random_sharpness_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"RandomSharpness.*factor.*\[0, 1\].*factor=1.2"):
        layers.RandomSharpness(1.2)
    with pytest.raises(ValueError, match=r"RandomSharpness.*value_range.*value_range='x'"):
        layers.RandomSharpness(0.5, value_range="x")
