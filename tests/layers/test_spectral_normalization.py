"""Wrapper and SpectralNormalization against a NumPy float64 power iteration."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip, check_input_grad


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _power_iteration(kernel, u, iterations):
    """Keras's update: v = normalize(u W^T), u = normalize(v W), sigma = v W u^T."""
    w = kernel.reshape(-1, kernel.shape[-1])
    for _ in range(iterations):
        v = u @ w.T
        v /= np.linalg.norm(v)
        u = v @ w
        u /= np.linalg.norm(u)
    sigma = (v @ w @ u.T).item()
    return u, kernel / sigma, sigma


def _wrapped(inner, shape, iterations=1, seed=0):
    layer = layers.SpectralNormalization(inner, power_iterations=iterations, dtype="float64")
    layer.build(shape)
    layer.set_weights([_x(w.shape, seed + i) for i, w in enumerate(layer.get_weights())])
    return layer


def test_weights_are_kernel_vector_u_then_the_rest_as_keras():
    layer = layers.SpectralNormalization(layers.Dense(3))
    layer.build((2, 4))
    assert [(w.path, w.shape, w.trainable) for w in layer.weights] == [
        ("spectral_normalization/dense/kernel", (4, 3), True),
        ("spectral_normalization/vector_u", (1, 3), False),
        ("spectral_normalization/dense/bias", (3,), True)]


@pytest.mark.parametrize("make, shape", [
    (lambda: layers.Dense(3, dtype="float64"), (2, 4)),
    (lambda: layers.Conv2D(2, 2, dtype="float64"), (2, 4, 4, 3)),
])
@pytest.mark.parametrize("iterations", [1, 3])
def test_training_updates_u_and_kernel_then_calls_the_layer(make, shape, iterations):
    layer = _wrapped(make(), shape, iterations)
    x = _x(shape, 7)
    for _ in range(2):  # the second step starts from the first step's u and kernel
        kernel, u = layer.layer.kernel.numpy(), layer.vector_u.numpy()
        bias = layer.layer.bias.numpy()
        ref_u, ref_kernel, sigma = _power_iteration(kernel, u, iterations)
        out = np.asarray(layer(x, training=True))
        np.testing.assert_allclose(layer.vector_u.numpy(), ref_u, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.layer.kernel.numpy(), ref_kernel, rtol=1e-10)
        layer.layer.kernel.assign(ref_kernel)
        np.testing.assert_allclose(out, np.asarray(layer.layer(x)), rtol=1e-10, atol=1e-12)
        assert sigma > 0 and layer.layer.bias.numpy() is not None
        np.testing.assert_array_equal(layer.layer.bias.numpy(), bias)


def test_one_iteration_converges_to_the_largest_singular_value():
    layer = _wrapped(layers.Dense(3, dtype="float64"), (2, 5))
    kernel = layer.layer.kernel.numpy()
    for _ in range(30):
        layer(_x((2, 5)), training=True)
    np.testing.assert_allclose(np.linalg.norm(layer.layer.kernel.numpy(), 2), 1.0, rtol=1e-8)
    np.testing.assert_allclose(layer.layer.kernel.numpy() * np.linalg.norm(kernel, 2), kernel,
                               rtol=1e-6)


def test_inference_leaves_the_weights_alone():
    layer = _wrapped(layers.Dense(3, dtype="float64"), (2, 4))
    before = [w.copy() for w in layer.get_weights()]
    x = _x((2, 4), 3)
    np.testing.assert_allclose(np.asarray(layer(x)), x @ before[0] + before[2], rtol=1e-12)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_an_all_zero_kernel_is_left_as_it_is():
    layer = _wrapped(layers.Dense(2, dtype="float64"), (1, 3))
    layer.layer.kernel.assign(np.zeros((3, 2)))
    u = layer.vector_u.numpy()
    out = np.asarray(layer(_x((1, 3)), training=True))
    np.testing.assert_array_equal(layer.layer.kernel.numpy(), 0.0)
    np.testing.assert_array_equal(layer.vector_u.numpy(), u)
    assert np.isfinite(out).all()


def test_embeddings_are_normalized_too():
    layer = layers.SpectralNormalization(layers.Embedding(6, 3))
    layer.build((1, 4))
    emb, u = layer.layer.embeddings.numpy(), layer.vector_u.numpy()
    layer(np.array([[1, 2, 5, 0]]), training=True)
    _, ref, _ = _power_iteration(emb.astype("float64"), u.astype("float64"), 1)
    np.testing.assert_allclose(layer.layer.embeddings.numpy(), ref, rtol=1e-5)


def test_input_gradient_matches_finite_differences():
    layer = _wrapped(layers.Dense(3, dtype="float64"), (2, 4))
    check_input_grad(layer, _x((2, 4), 1), _x((2, 3), 2))


def test_training_gradient_flows_to_every_trainable_weight():
    layer = _wrapped(layers.Dense(3, dtype="float64"), (2, 4))
    with gk.GradientTape() as tape:
        loss = gk.ops.sum(layer(_x((2, 4), 1), training=True))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert len(grads) == 2 and all(np.isfinite(np.asarray(g)).all() for g in grads)


def test_config_round_trip_and_output_shape():
    layer = layers.SpectralNormalization(layers.Conv1D(4, 3), power_iterations=2)
    clone = assert_config_roundtrip(layer, {"name", "trainable", "dtype", "layer",
                                            "power_iterations"})
    assert isinstance(clone.layer, layers.Conv1D) and clone.power_iterations == 2
    assert layer.compute_output_shape((2, 10, 3)) == (2, 8, 4)
    assert isinstance(layer, layers.Wrapper)


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match="SpectralNormalization.*`power_iterations`"):
        layers.SpectralNormalization(layers.Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match="SpectralNormalization: `layer` must be a Layer"):
        layers.SpectralNormalization("dense")
    with pytest.raises(ValueError, match="SpectralNormalization '.*no `kernel` nor "
                                         "`embeddings`"):
        layers.SpectralNormalization(layers.ReLU())(np.ones((1, 2)))
    layer = layers.SpectralNormalization(layers.Dense(2))
    layer(np.ones((1, 3)))
    with pytest.raises(ValueError, match="spectral_normalization"):
        layer(np.ones((1, 4)))  # the input spec of the built wrapper


def test_wrapper_base_class():
    wrapper = layers.Wrapper(layers.Dense(2))
    wrapper.build((1, 3))
    assert wrapper.layer.built and len(wrapper.weights) == 2
    clone = assert_config_roundtrip(wrapper, {"name", "trainable", "dtype", "layer"})
    assert isinstance(clone.layer, layers.Dense) and clone.layer.units == 2
    with pytest.raises(TypeError, match="Wrapper has no call"):
        wrapper(np.ones((1, 3)))
    with pytest.raises(ValueError, match="Wrapper: `layer` must be a Layer instance"):
        layers.Wrapper(3)
