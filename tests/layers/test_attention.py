"""MultiHeadAttention against a NumPy float64 reference, and Keras parity."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.keras_reference import keras_or_skip
from tests.layers.layer_checks import assert_config_roundtrip, check_weight_grads


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _mha_ref(q, v, weights, heads, key_dim, mask=None):
    qk, qb, kk, kb, vk, vb, ok, ob = weights
    Q = np.einsum("btd,dhk->bthk", q, qk) + qb
    K = np.einsum("btd,dhk->bthk", v, kk) + kb
    V = np.einsum("btd,dhk->bthk", v, vk) + vb
    logits = np.einsum("bqhk,bshk->bhqs", Q / np.sqrt(key_dim), K)
    if mask is not None:
        logits = np.where(mask[:, None], logits, -1e9)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    ctx = np.einsum("bhqs,bshk->bqhk", p, V)
    return np.einsum("bqhk,hko->bqo", ctx, ok) + ob, p


def _built(q, v, **kwargs):
    layer = layers.MultiHeadAttention(2, 3, dtype="float64", **kwargs)
    layer.build(q.shape, v.shape)
    weights = [_x(w.shape, i + 1) * 0.5 for i, w in enumerate(layer.get_weights())]
    layer.set_weights(weights)
    return layer, weights


def test_weights_have_keras_names_and_shapes():
    layer, _ = _built(_x((1, 4, 6)), _x((1, 5, 3)))
    assert [(w.path, w.shape) for w in layer.weights] == [
        ("multi_head_attention/query/kernel", (6, 2, 3)),
        ("multi_head_attention/query/bias", (2, 3)),
        ("multi_head_attention/key/kernel", (3, 2, 3)),
        ("multi_head_attention/key/bias", (2, 3)),
        ("multi_head_attention/value/kernel", (3, 2, 3)),
        ("multi_head_attention/value/bias", (2, 3)),
        ("multi_head_attention/attention_output/kernel", (2, 3, 6)),
        ("multi_head_attention/attention_output/bias", (6,))]


def test_sublayers_get_their_own_copy_of_an_unseeded_initializer():
    # Unseeded initializers give the same values on each call (Keras 3), so the query, key
    # and value kernels, of equal shapes, only differ if each sublayer gets its own copy.
    layer = layers.MultiHeadAttention(2, 3, kernel_initializer=gk.initializers.GlorotUniform())
    layer(np.ones((1, 4, 6), "float32"), np.ones((1, 4, 6), "float32"))
    q, k, v = (w.numpy() for w in layer.weights[0:6:2])
    assert not np.array_equal(q, k) and not np.array_equal(k, v)


def test_forward_and_scores_match_numpy():
    q, v = _x((2, 4, 6)), _x((2, 5, 3), 9)
    layer, weights = _built(q, v)
    out, scores = layer(q, v, return_attention_scores=True)
    ref_out, ref_scores = _mha_ref(q, v, weights, 2, 3)
    np.testing.assert_allclose(np.asarray(out), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(scores), ref_scores, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(q.shape, v.shape) == (2, 4, 6)


def test_attention_mask_and_causal_mask():
    q = _x((2, 4, 6))
    layer, weights = _built(q, q)
    causal = np.tril(np.ones((4, 4), bool))[None].repeat(2, 0)
    ref, _ = _mha_ref(q, q, weights, 2, 3, causal)
    np.testing.assert_allclose(np.asarray(layer(q, q, use_causal_mask=True)), ref,
                               rtol=1e-10, atol=1e-12)
    explicit = np.random.default_rng(3).random((2, 4, 4)) > 0.3
    explicit[..., 0] = True
    ref, _ = _mha_ref(q, q, weights, 2, 3, explicit & causal)
    np.testing.assert_allclose(
        np.asarray(layer(q, q, attention_mask=explicit, use_causal_mask=True)), ref,
        rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("policy", ["float16", "mixed_float16"])
def test_fully_masked_rows_are_not_nan_in_half_precision(policy):
    # -1e9 is -inf in float16; Keras masks half-precision logits with -3e4 instead, so a
    # query that may attend to nothing (a padded one) gets uniform scores, not NaN.
    q = _x((1, 3, 4)).astype("float32")
    layer = layers.MultiHeadAttention(2, 2, dtype=policy)
    mask = np.array([[[1, 1, 0], [0, 0, 0], [1, 0, 1]]], bool)
    out, scores = layer(q, q, attention_mask=mask, return_attention_scores=True)
    scores = np.asarray(scores, np.float64)
    np.testing.assert_allclose(scores[0, :, 1], np.full((2, 3), 1 / 3), rtol=1e-3)
    np.testing.assert_array_equal(scores[0, :, 0, 2], 0.0)
    assert np.isfinite(np.asarray(out, np.float64)).all()


def test_attention_mask_of_any_rank_broadcasts_like_keras():
    # Keras expands a lower-rank mask at axis -3: (T_q, T_k) for every example and head,
    # (batch, heads, T_q, T_k) per head.
    q = _x((2, 4, 6))
    layer, weights = _built(q, q)
    tril = np.tril(np.ones((4, 4), bool))
    ref, ref_scores = _mha_ref(q, q, weights, 2, 3, np.broadcast_to(tril, (2, 4, 4)))
    out, scores = layer(q, q, attention_mask=tril, return_attention_scores=True)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(scores), ref_scores, rtol=1e-10, atol=1e-12)
    per_head = np.random.default_rng(4).random((2, 2, 4, 4)) > 0.4
    per_head[..., 0] = True
    _, scores = layer(q, q, attention_mask=per_head, return_attention_scores=True)
    for h in range(2):  # each head follows its own mask
        _, ref_scores = _mha_ref(q, q, weights, 2, 3, per_head[:, h])
        np.testing.assert_allclose(np.asarray(scores)[:, h], ref_scores[:, h], rtol=1e-10,
                                   atol=1e-12)


def test_key_and_value_of_different_lengths_name_the_layer_and_arguments():
    q, v, k = _x((2, 4, 6)), _x((2, 5, 3)), _x((2, 6, 3))
    match = r"MultiHeadAttention 'multi_head_attention.*`value` and `key`.*" \
            r"value_shape=\(2, 5, 3\), key_shape=\(2, 6, 3\)"
    with pytest.raises(ValueError, match=match):
        layers.MultiHeadAttention(2, 3)(q, v, k)
    layer = layers.MultiHeadAttention(2, 3)
    layer(q, v, v)
    with pytest.raises(ValueError, match="`value` and `key`"):  # after build too
        layer(q, v, k)
    with pytest.raises(ValueError, match="`value` and `key`"):
        layers.MultiHeadAttention(2, 3)(gk.Input((4, 6)), gk.Input((5, 3)), gk.Input((6, 3)))


def test_gradients_match_finite_differences():
    q = _x((1, 3, 4))
    layer = layers.MultiHeadAttention(2, 2, dtype="float64", bias_initializer="ones")
    check_weight_grads(layer, q, _x((1, 3, 4), 5), value=q)


def test_config_round_trip_and_errors():
    keys = {"name", "trainable", "dtype", "num_heads", "key_dim", "value_dim", "dropout",
            "use_bias", "output_shape", "attention_axes", "kernel_initializer",
            "bias_initializer", "kernel_regularizer", "bias_regularizer",
            "activity_regularizer", "kernel_constraint", "bias_constraint", "seed",
            "use_gate", "sliding_window"}
    assert_config_roundtrip(layers.MultiHeadAttention(4, 8, output_shape=5), keys)
    with pytest.raises(ValueError, match="MultiHeadAttention .*`num_heads`"):
        layers.MultiHeadAttention(0, 2)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_keras_parity():
    keras = keras_or_skip()
    q, v = _x((2, 4, 6)).astype("float32"), _x((2, 5, 3), 1).astype("float32")
    k_layer = keras.layers.MultiHeadAttention(2, 3)
    k_layer.build(q.shape, v.shape)
    k_layer.set_weights([w + 0.1 for w in k_layer.get_weights()])
    g_layer = layers.MultiHeadAttention(2, 3)
    g_layer.build(q.shape, v.shape)
    g_layer.set_weights(k_layer.get_weights())
    mask = np.random.default_rng(2).random((2, 4, 5)) > 0.3
    np.testing.assert_allclose(np.asarray(g_layer(q, v, attention_mask=mask)),
                               np.asarray(k_layer(q, v, attention_mask=mask)),
                               rtol=1e-5, atol=1e-5)


def test_mha_return_attention_scores_in_functional_model():
    q, v = gk.Input((5, 8)), gk.Input((4, 8))
    out, scores = layers.MultiHeadAttention(2, 3)(q, v, return_attention_scores=True)
    assert out.shape == (None, 5, 8) and scores.shape == (None, 2, 5, 4)
    model = gk.Model([q, v], [out, scores])
    rng = np.random.default_rng(0)
    o, s = model([rng.normal(size=(2, 5, 8)).astype("float32"),
                  rng.normal(size=(2, 4, 8)).astype("float32")])
    assert o.shape == (2, 5, 8)
    np.testing.assert_allclose(np.asarray(s).sum(-1), np.ones((2, 2, 5)), rtol=1e-5)


def test_mha_output_keeps_the_query_mask():
    tok = np.array([[3, 5, 2, 0, 0]], "int32")
    i = gk.Input((5,), dtype="int32")
    e = layers.Embedding(10, 4, mask_zero=True)(i)
    a = layers.MultiHeadAttention(2, 2)(e, e)
    seq, pooled = gk.Model(i, [a, layers.GlobalAveragePooling1D()(a)])(tok)
    np.testing.assert_allclose(np.asarray(pooled)[0],
                               np.asarray(seq, "float64")[0, :3].mean(0), rtol=1e-5, atol=1e-7)


def test_mha_on_masked_inputs_does_not_warn():
    import warnings
    tok = np.array([[3, 5, 2, 0, 0]], "int32")
    i = gk.Input((5,), dtype="int32")
    e = layers.Embedding(10, 4, mask_zero=True)(i)
    model = gk.Model(i, layers.Add()([e, layers.MultiHeadAttention(2, 2)(e, e)]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = model(tok)
    np.testing.assert_array_equal(np.asarray(out._keras_mask), tok != 0)
