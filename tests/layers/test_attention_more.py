"""Attention (Luong) and AdditiveAttention (Bahdanau) against NumPy float64 references."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import (assert_config_roundtrip, check_compiled_predict,
                                       check_weight_grads)

BASE_KEYS = {"name", "trainable", "dtype"}


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


Q, V, K = _x((2, 4, 3)), _x((2, 5, 3), 1), _x((2, 5, 3), 2)
Q_MASK = np.array([[1, 1, 0, 1], [1, 0, 0, 0]], bool)
V_MASK = np.array([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]], bool)  # the 2nd row: nothing to see


def _dot_scores(q, k, scale=None, concat_weight=None):
    if concat_weight is None:
        scores = q @ np.swapaxes(k, -1, -2)
        return scores if scale is None else scores * scale
    pairs = q[:, :, None, :] + k[:, None, :, :]
    return concat_weight * np.tanh(pairs if scale is None else scale * pairs).sum(-1)


def _additive_scores(q, k, scale=None):
    pairs = np.tanh(q[:, :, None, :] + k[:, None, :, :])
    return (pairs if scale is None else scale * pairs).sum(-1)


def _attend(scores, v, q_mask=None, v_mask=None, causal=False):
    """Keras's masking: masked scores lowered by 1e9; dropped query steps output zeros."""
    keep = np.ones(scores.shape, bool)
    if v_mask is not None:
        keep &= v_mask[:, None, :]
    if causal:
        keep &= np.tril(np.ones(scores.shape[-2:], bool))
    scores = np.where(keep, scores, scores - 1e9)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    out = weights @ v
    if q_mask is not None:
        out = np.where(q_mask[..., None], out, 0.0)
    return out, weights


def _built(cls, shapes, **kwargs):
    layer = cls(dtype="float64", **kwargs)
    layer.build(shapes)
    layer.set_weights([_x(w.shape, i + 5) + 1.0 for i, w in enumerate(layer.get_weights())])
    return layer


ATTENTION_CASES = [
    (layers.Attention, {}, lambda q, k, w: _dot_scores(q, k)),
    (layers.Attention, {"use_scale": True}, lambda q, k, w: _dot_scores(q, k, w[0])),
    (layers.Attention, {"score_mode": "concat"},
     lambda q, k, w: _dot_scores(q, k, concat_weight=w[0])),
    (layers.Attention, {"score_mode": "concat", "use_scale": True},
     lambda q, k, w: _dot_scores(q, k, w[0], w[1])),
    (layers.AdditiveAttention, {}, lambda q, k, w: _additive_scores(q, k, w[0])),
    (layers.AdditiveAttention, {"use_scale": False}, lambda q, k, w: _additive_scores(q, k)),
]


@pytest.mark.parametrize("cls, kwargs, scores", ATTENTION_CASES)
def test_outputs_and_scores_match_numpy(cls, kwargs, scores):
    layer = _built(cls, [Q.shape, V.shape, K.shape], **kwargs)
    weights = layer.get_weights()
    cases = [
        ([Q, V], {}, _attend(scores(Q, V, weights), V)),
        ([Q, V, K], {"mask": [Q_MASK, V_MASK]},
         _attend(scores(Q, K, weights), V, Q_MASK, V_MASK)),
        ([Q, V, K], {"mask": [None, V_MASK], "use_causal_mask": True},
         _attend(scores(Q, K, weights), V, None, V_MASK, causal=True)),
    ]
    for inputs, call_kwargs, (ref_out, ref_weights) in cases:
        out, attention = layer(inputs, return_attention_scores=True, **call_kwargs)
        np.testing.assert_allclose(np.asarray(out), ref_out, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(np.asarray(attention), ref_weights, rtol=1e-10, atol=1e-12)


def test_weights_have_keras_names_shapes_and_order():
    shapes = [Q.shape, V.shape]
    attention = _built(layers.Attention, shapes, use_scale=True, score_mode="concat")
    assert [(w.path, w.shape) for w in attention.weights] == [
        ("attention/scale", ()), ("attention/concat_score_weight", ())]
    assert not _built(layers.Attention, shapes).weights
    additive = _built(layers.AdditiveAttention, shapes)
    assert [(w.path, w.shape) for w in additive.weights] == [("additive_attention/scale", (3,))]


@pytest.mark.parametrize("cls, kwargs", [
    (layers.Attention, {"use_scale": True, "score_mode": "concat"}),
    (layers.AdditiveAttention, {})])
def test_weight_gradients(cls, kwargs):
    layer = _built(cls, [Q.shape, V.shape], **kwargs)
    # Every query sees a value (step 0, causally too): the scores of a fully masked row,
    # lowered by 1e9, keep too few digits for finite differences.
    value_mask = V_MASK | (np.arange(5) == 0)
    check_weight_grads(layer, [Q, V, K], _x((2, 4, 3), 9), mask=[Q_MASK, value_mask],
                       use_causal_mask=True)


def test_dropout_only_in_training():
    layer = layers.Attention(dropout=0.5, seed=3, dtype="float64")
    inference = np.asarray(layer([Q, V]))
    np.testing.assert_allclose(inference, _attend(_dot_scores(Q, V), V)[0], rtol=1e-10)
    _, weights = layer([Q, V], training=True, return_attention_scores=True)
    weights = np.asarray(weights)
    assert (weights == 0).any() and weights.max() > 1.0  # dropped and rescaled by 2


def test_masks_flow_from_embeddings_in_a_model():
    q_ids, v_ids = gk.Input((None,), dtype="int32"), gk.Input((None,), dtype="int32")
    embedding = layers.Embedding(10, 3, mask_zero=True)
    out, scores = layers.AdditiveAttention()([embedding(q_ids), embedding(v_ids)],
                                             return_attention_scores=True)
    assert (out.shape, scores.shape) == ((None, None, 3), (None, None, None))
    model = gk.Model([q_ids, v_ids], [out, scores])
    q, v = np.array([[1, 2, 0], [3, 0, 0]]), np.array([[4, 5, 6, 0], [7, 0, 0, 0]])
    out, scores = (np.asarray(t) for t in model([q, v]))
    assert (out[q == 0] == 0).all()  # padded queries give zeros
    assert (scores[..., 3] < 1e-6).all() and (scores[1, :, 1:] < 1e-6).all()
    assert np.asarray(embedding(q)._keras_mask).tolist() == (q != 0).tolist()


def test_output_mask_is_the_query_mask():
    layer = layers.Attention()
    assert layer.compute_mask([Q, V], None) is None
    assert layer.compute_mask([Q, V], [Q_MASK, V_MASK]) is Q_MASK
    assert layer.compute_mask([Q, V], [None, V_MASK]) is None


def test_symbolic_shapes_with_unknown_dims():
    q, v, k = gk.Input((None, 3)), gk.Input((None, 2)), gk.Input((7, 3))
    out, scores = layers.Attention()([q, v, k], return_attention_scores=True)
    assert (out.shape, scores.shape) == ((None, None, 2), (None, None, 7))
    assert layers.AdditiveAttention()([q, v, k]).shape == (None, None, 2)
    assert layers.Attention().compute_output_shape([(2, 4, 3), (2, 5, 6)]) == (2, 4, 6)


def test_argument_and_input_errors_name_the_layer():
    with pytest.raises(ValueError, match="'att'.*score_mode.*'sum'"):
        layers.Attention(score_mode="sum", name="att")
    with pytest.raises(ValueError, match="'att'.*dropout"):
        layers.Attention(dropout=1.5, name="att")
    with pytest.raises(ValueError, match="'att'.*list \\[query, value\\]"):
        layers.Attention(name="att")(Q)
    with pytest.raises(ValueError, match="'att'.*list \\[query, value\\]"):
        layers.Attention(name="att")([Q])
    with pytest.raises(ValueError, match="'att'.*`mask` must be a list"):
        layers.Attention(name="att")([Q, V], mask=Q_MASK)
    with pytest.raises(ValueError, match="'add'.*same last dimension"):
        layers.AdditiveAttention(name="add")([Q, V, _x((2, 5, 4))])
    with pytest.raises(ValueError, match="'att'.*same number of steps"):
        layers.Attention(name="att")([Q, V, _x((2, 6, 3))])


def test_config_roundtrip():
    attention = layers.Attention(use_scale=True, score_mode="concat", dropout=0.1, seed=4)
    clone = assert_config_roundtrip(
        attention, BASE_KEYS | {"use_scale", "score_mode", "dropout", "seed"})
    assert (clone.use_scale, clone.score_mode, clone.seed) == (True, "concat", 4)
    additive = layers.AdditiveAttention(use_scale=False, dropout=0.2)
    clone = assert_config_roundtrip(additive, BASE_KEYS | {"use_scale", "dropout", "seed"})
    assert (clone.use_scale, clone.dropout) == (False, 0.2)


@pytest.mark.parametrize("cls", [layers.Attention, layers.AdditiveAttention])
def test_half_precision_masked_rows_are_finite(cls):
    # -1e9 is -inf in float16: masked float16 scores are lowered by 65504 instead.
    layer = cls(dtype="mixed_float16")
    out = layer([Q.astype("float16"), V.astype("float16")], mask=[Q_MASK, V_MASK])
    assert out.dtype == "float16" and np.isfinite(np.asarray(out, "float32")).all()


@pytest.mark.parametrize("cls, kwargs", [
    (layers.Attention, {"use_scale": True, "score_mode": "concat"}),
    (layers.AdditiveAttention, {})])
def test_compiled_model_predicts_like_eager(cls, kwargs):
    query, value = gk.Input((4, 3)), gk.Input((5, 3))
    attention = cls(**kwargs)
    model = gk.Model([query, value], attention([query, value], use_causal_mask=True))
    attention.set_weights([_x(w.shape, 2).astype("float32") for w in attention.weights])
    check_compiled_predict(model, [Q.astype("float32"), _x((2, 5, 3), 3).astype("float32")])
