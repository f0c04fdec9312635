"""GroupQueryAttention against a NumPy float64 reference: MultiHeadAttention with each
key/value head repeated for its group of query heads."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip, check_weight_grads


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _gqa_ref(q, v, weights, q_heads, kv_heads, head_dim, mask=None):
    qk, qb, kk, kb, vk, vb, ok, ob = weights
    Q = np.einsum("btd,dhk->bthk", q, qk) + qb
    K = np.repeat(np.einsum("btd,dhk->bthk", v, kk) + kb, q_heads // kv_heads, axis=2)
    V = np.repeat(np.einsum("btd,dhk->bthk", v, vk) + vb, q_heads // kv_heads, axis=2)
    logits = np.einsum("bqhk,bshk->bhqs", Q / np.sqrt(head_dim), K)
    if mask is not None:
        logits = np.where(mask[:, None], logits, -1e9)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    ctx = np.einsum("bhqs,bshk->bqhk", p, V)
    return np.einsum("bqhk,hko->bqo", ctx, ok) + ob, p


def _built(q, v, head_dim=3, q_heads=4, kv_heads=2, **kwargs):
    layer = layers.GroupQueryAttention(head_dim, q_heads, kv_heads, dtype="float64", **kwargs)
    layer.build(q.shape, v.shape)
    weights = [_x(w.shape, i + 1) * 0.5 for i, w in enumerate(layer.get_weights())]
    layer.set_weights(weights)
    return layer, weights


def test_weights_have_keras_names_shapes_and_order():
    layer, _ = _built(_x((1, 4, 6)), _x((1, 5, 3)), head_dim=2)
    assert [(w.path, w.shape) for w in layer.weights] == [
        ("grouped_query_attention/query/kernel", (6, 4, 2)),
        ("grouped_query_attention/query/bias", (4, 2)),
        ("grouped_query_attention/key/kernel", (3, 2, 2)),
        ("grouped_query_attention/key/bias", (2, 2)),
        ("grouped_query_attention/value/kernel", (3, 2, 2)),
        ("grouped_query_attention/value/bias", (2, 2)),
        ("grouped_query_attention/attention_output/kernel", (4, 2, 6)),
        ("grouped_query_attention/attention_output/bias", (6,))]
    no_bias = layers.GroupQueryAttention(2, 2, 1, use_bias=False)
    no_bias.build((1, 4, 6), (1, 5, 3))
    assert [w.shape for w in no_bias.weights] == [(6, 2, 2), (3, 1, 2), (3, 1, 2), (2, 2, 6)]


@pytest.mark.parametrize("kv_heads", [1, 2, 4])  # multi-query, grouped, multi-head
def test_forward_and_scores_match_numpy(kv_heads):
    q, v = _x((2, 4, 6)), _x((2, 5, 3), 9)
    layer, weights = _built(q, v, kv_heads=kv_heads)
    out, scores = layer(q, v, return_attention_scores=True)
    ref_out, ref_scores = _gqa_ref(q, v, weights, 4, kv_heads, 3)
    np.testing.assert_allclose(np.asarray(out), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(scores), ref_scores, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(q.shape, v.shape) == (2, 4, 6)


def test_padding_causal_and_explicit_masks():
    q = _x((2, 4, 6))
    layer, weights = _built(q, q)
    causal = np.tril(np.ones((4, 4), bool))[None].repeat(2, 0)
    explicit = np.random.default_rng(3).random((2, 4, 4)) > 0.3
    explicit[..., 0] = True
    ref, _ = _gqa_ref(q, q, weights, 4, 2, 3, explicit & causal)
    np.testing.assert_allclose(
        np.asarray(layer(q, q, attention_mask=explicit, use_causal_mask=True)), ref,
        rtol=1e-10, atol=1e-12)
    q_mask = np.array([[1, 1, 0, 1], [1, 0, 0, 0]], bool)
    v_mask = np.array([[1, 0, 1, 1], [1, 1, 0, 0]], bool)
    ref, _ = _gqa_ref(q, q, weights, 4, 2, 3, q_mask[:, :, None] & v_mask[:, None, :])
    np.testing.assert_allclose(np.asarray(layer(q, q, query_mask=q_mask, value_mask=v_mask)),
                               ref, rtol=1e-10, atol=1e-12)


def test_output_keeps_the_query_mask_in_a_model():
    tok = np.array([[3, 5, 2, 0, 0]], "int32")
    i = gk.Input((5,), dtype="int32")
    e = layers.Embedding(10, 4, mask_zero=True)(i)
    out = gk.Model(i, layers.GroupQueryAttention(2, 2, 1)(e, e))(tok)
    np.testing.assert_array_equal(np.asarray(out._keras_mask), tok != 0)


def test_symbolic_shapes_with_scores():
    q, v = gk.Input((5, 8)), gk.Input((4, 6))
    out, scores = layers.GroupQueryAttention(3, 4, 2)(q, v, return_attention_scores=True)
    assert out.shape == (None, 5, 8) and scores.shape == (None, 4, 5, 4)


def test_dropout_only_in_training():
    q = _x((2, 4, 6))
    layer, _ = _built(q, q, dropout=0.5, seed=1)
    np.testing.assert_array_equal(np.asarray(layer(q, q)), np.asarray(layer(q, q)))
    _, scores = layer(q, q, return_attention_scores=True, training=True)
    assert np.isfinite(np.asarray(scores)).all()
    assert not np.allclose(np.asarray(layer(q, q, training=True)), np.asarray(layer(q, q)))


def test_gradients_match_finite_differences():
    q = _x((1, 3, 4))
    layer = layers.GroupQueryAttention(2, 2, 1, dtype="float64", bias_initializer="ones")
    check_weight_grads(layer, q, _x((1, 3, 4), 5), value=q)


def test_config_round_trip():
    keys = {"name", "trainable", "dtype", "head_dim", "num_query_heads",
            "num_key_value_heads", "use_bias", "dropout", "kernel_initializer",
            "bias_initializer", "kernel_regularizer", "bias_regularizer",
            "activity_regularizer", "kernel_constraint", "bias_constraint", "seed",
            "use_gate", "sliding_window"}
    assert_config_roundtrip(layers.GroupQueryAttention(8, 4, 2, dropout=0.1), keys)
    assert layers.GroupQueryAttention(2, 2, 1, flash_attention=None).num_repeats == 2


@pytest.mark.parametrize("args, kwargs, match", [
    ((2, 3, 2), {}, "`num_query_heads` must be divisible by `num_key_value_heads`"),
    ((0, 2, 1), {}, "`head_dim` must be a positive integer"),
    ((2, 2, 1), {"dropout": 1.0}, "`dropout`"),
    ((2, 2, 1), {"flash_attention": True}, "`flash_attention`"),
    ((2, 2, 1), {"use_gate": True}, "`use_gate`"),
])
def test_errors_name_the_layer(args, kwargs, match):
    with pytest.raises(ValueError, match=f"GroupQueryAttention.*{match}"):
        layers.GroupQueryAttention(*args, **kwargs)


def test_key_and_value_of_different_lengths():
    q, v, k = _x((2, 4, 6)), _x((2, 5, 3)), _x((2, 6, 3))
    with pytest.raises(ValueError, match="GroupQueryAttention 'grouped_query_attention.*"
                                         "`value` and `key`"):
        layers.GroupQueryAttention(2, 2, 1)(q, v, k)
