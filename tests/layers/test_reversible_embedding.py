"""ReversibleEmbedding against NumPy float64: lookup forward, `x @ E^T` (or the untied
reverse weight) in reverse, with the optional soft cap."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip, check_weight_grads, numeric_grad

TOKENS = np.array([[1, 2, 0], [4, 0, 0]])


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _built(**kwargs):
    layer = layers.ReversibleEmbedding(7, 4, dtype="float64", **kwargs)
    layer.build()
    layer.set_weights([_x(w.shape, i) for i, w in enumerate(layer.get_weights())])
    return layer


def test_weights_as_keras():
    assert [(w.path, w.shape) for w in _built().weights] == \
        [("reversible_embedding/embeddings", (7, 4))]
    assert [(w.path, w.shape) for w in _built(tie_weights=False).weights] == [
        ("reversible_embedding_1/embeddings", (7, 4)),
        ("reversible_embedding_1/reverse_embeddings", (4, 7))]


@pytest.mark.parametrize("kwargs", [{}, {"tie_weights": False}, {"logit_soft_cap": 0.5},
                                    {"tie_weights": False, "logit_soft_cap": 2.0}])
def test_forward_and_reverse_match_numpy(kwargs):
    layer = _built(**kwargs)
    weights = layer.get_weights()
    np.testing.assert_array_equal(np.asarray(layer(TOKENS)), weights[0][TOKENS])
    h = _x((2, 3, 4), 5)
    kernel = weights[0].T if layer.tie_weights else weights[1]
    ref = h @ kernel
    if "logit_soft_cap" in kwargs:
        ref = np.tanh(ref / kwargs["logit_soft_cap"]) * kwargs["logit_soft_cap"]
    np.testing.assert_allclose(np.asarray(layer(h, reverse=True)), ref, rtol=1e-12)
    assert layer.compute_output_shape((2, 3, 4), reverse=True) == (2, 3, 7)
    assert layer.compute_output_shape((2, 3)) == (2, 3, 4)


def test_reverse_dtype():
    layer = layers.ReversibleEmbedding(7, 4, reverse_dtype="float64")
    logits = layer(_x((2, 4)).astype("float32"), reverse=True)
    assert logits.dtype == "float64"
    np.testing.assert_allclose(np.asarray(logits), _x((2, 4)).astype("float32").astype(
        "float64") @ layer.embeddings.numpy().astype("float64").T, rtol=1e-12)


def test_forward_mask_and_no_reverse_mask():
    layer = _built(mask_zero=True)
    out = layer(TOKENS)
    np.testing.assert_array_equal(np.asarray(out._keras_mask), TOKENS != 0)
    assert getattr(layer(_x((2, 3, 4)), reverse=True), "_keras_mask", None) is None


def test_gradients_match_finite_differences():
    h, ct = _x((2, 4), 3), _x((2, 7), 4)
    layer = _built(logit_soft_cap=1.5)
    h_var = gk.Variable(h)
    with gk.GradientTape() as tape:
        loss = gk.ops.sum(gk.ops.multiply(layer(h_var, reverse=True), ct))
    expected = numeric_grad(lambda: float(np.sum(np.asarray(layer(h, reverse=True)) * ct)), h)
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, h_var)), expected, atol=1e-6,
                               rtol=1e-5)
    # Tied: the one weight (an untied layer's embeddings take no part in reverse calls).
    check_weight_grads(_built(logit_soft_cap=1.5), h, ct, reverse=True)


def test_config_round_trip_and_errors():
    keys = {"name", "trainable", "dtype", "input_dim", "output_dim", "embeddings_initializer",
            "embeddings_regularizer", "activity_regularizer", "embeddings_constraint",
            "mask_zero", "quantization_config", "tie_weights", "reverse_dtype",
            "logit_soft_cap"}
    clone = assert_config_roundtrip(
        layers.ReversibleEmbedding(7, 4, tie_weights=False, logit_soft_cap=3.0), keys)
    assert not clone.tie_weights and clone.logit_soft_cap == 3.0
    with pytest.raises(ValueError, match="ReversibleEmbedding '.*`logit_soft_cap`"):
        layers.ReversibleEmbedding(7, 4, logit_soft_cap=-1.0)
    with pytest.raises(ValueError, match="ReversibleEmbedding '.*output_dim=4"):
        _built()(_x((2, 3)), reverse=True)


def test_one_layer_embeds_and_projects_back_in_a_functional_model(tmp_path):
    tokens = gk.Input((5,), dtype="int32")
    emb = layers.ReversibleEmbedding(20, 8, mask_zero=True, logit_soft_cap=5.0)
    hidden = emb(tokens)
    assert hidden._keras_mask is not None  # the forward call's mask, symbolically too
    model = gk.Model(tokens, emb(hidden, reverse=True))
    x = np.array([[1, 2, 3, 4, 0]])
    table = emb.embeddings.numpy().astype(np.float64)
    want = np.tanh(table[x] @ table.T / 5.0) * 5.0
    np.testing.assert_allclose(np.asarray(model(x)), want, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = gk.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), want, rtol=1e-5, atol=1e-6)
