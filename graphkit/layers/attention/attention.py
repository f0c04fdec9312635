"""`Attention`: Luong-style dot-product attention over `[query, value]` or
`[query, value, key]`, as Keras 3's `keras.layers.Attention`; the base of
`AdditiveAttention`, which only changes the scores.

Scores `(batch, T_q, T_v)` are masked (the value mask, the causal mask), softmaxed over the
value steps, optionally dropped out, and weight the values; query steps that the query mask
drops output zeros.
"""
from graphkit import ops, random
from graphkit.core.keras_tensor import KerasTensor
from graphkit.layers.layer import Layer


def _masked_score_offset(dtype):
    """What Keras subtracts from masked scores: large, yet finite in the scores' dtype."""
    return 65504.0 if dtype == "float16" else 1.0e9


class Attention(Layer):
    """Weights (Keras's order): `scale` (a scalar, when `use_scale`), then
    `concat_score_weight` (a scalar, when `score_mode="concat"`).

    - `score_mode="dot"`: `scores = query @ key^T`, times `scale`.
    - `score_mode="concat"`: `scores = concat_score_weight * sum(tanh(scale * (q + k)))`
      over the features, for every pair of query and key steps.
    """

    _score_modes = ("dot", "concat")

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        if score_mode not in self._score_modes:
            raise ValueError(f"{where}: `score_mode` must be one of {self._score_modes}. "
                             f"Received: score_mode={score_mode!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{where}: `dropout` must be in [0, 1). Received: "
                             f"dropout={dropout!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = dropout
        self.seed = seed
        if self.dropout > 0:
            self.seed_generator = random.SeedGenerator(seed)
        self.supports_masking = True

    # -- checks ---------------------------------------------------------------------------
    def _check_inputs(self, inputs, mask=None):
        """As Keras: a list [query, value] or [query, value, key], masks a list too."""
        where = f"{type(self).__name__} '{self.name}'"
        # A single input's shape, (batch, steps, dim), is a tuple too: its items are not.
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3 or any(
                x is None or isinstance(x, int) for x in inputs):
            raise ValueError(f"{where}: must be called on a list [query, value] or "
                             f"[query, value, key]. Received: inputs={inputs!r}")
        if mask is not None and (not isinstance(mask, (list, tuple)) or
                                 not 2 <= len(mask) <= 3):
            raise ValueError(f"{where}: `mask` must be a list [query_mask, value_mask] (or "
                             f"of 3 masks). Received: mask={mask!r}")

    def _check_shapes(self, shapes):
        """query (batch, T_q, dim) and key (batch, T_v, dim) share dim; key and value share
        their steps."""
        query, value = tuple(shapes[0]), tuple(shapes[1])
        key = tuple(shapes[2]) if len(shapes) > 2 else value
        if query[-1] is not None and key[-1] is not None and query[-1] != key[-1]:
            raise ValueError(f"{type(self).__name__} '{self.name}': the query and the key "
                             f"must have the same last dimension. Received: query shape "
                             f"{query}, key shape {key}")
        if value[-2] is not None and key[-2] is not None and value[-2] != key[-2]:
            raise ValueError(f"{type(self).__name__} '{self.name}': the value and the key "
                             f"must have the same number of steps (axis -2). Received: value "
                             f"shape {value}, key shape {key}")

    # -- weights and scores ---------------------------------------------------------------
    def build(self, input_shape):
        self._check_inputs(input_shape)
        self._check_shapes(input_shape)
        self.scale = self.add_weight(name="scale", shape=(), initializer="ones") \
            if self.use_scale else None
        self.concat_score_weight = self.add_weight(
            name="concat_score_weight", shape=(), initializer="ones") \
            if self.score_mode == "concat" else None
        self.built = True

    def _calculate_scores(self, query, key):
        """(batch, T_q, T_v) from query (batch, T_q, dim) and key (batch, T_v, dim)."""
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.swapaxes(key, -2, -1))
            return scores if self.scale is None else ops.multiply(scores, self.scale)
        pairs = ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3))
        if self.scale is not None:
            pairs = ops.multiply(self.scale, pairs)
        return ops.multiply(self.concat_score_weight, ops.sum(ops.tanh(pairs), axis=-1))

    def _scores_mask(self, scores, value_mask, use_causal_mask):
        """(batch or 1, 1 or T_q, T_v) bool, or None: the value mask and the causal mask."""
        mask = None
        if value_mask is not None:
            mask = ops.expand_dims(ops.cast(value_mask, "bool"), -2)
        if use_causal_mask:
            rows = ops.expand_dims(ops.arange(scores.shape[-2]), -1)
            cols = ops.expand_dims(ops.arange(scores.shape[-1]), 0)
            causal = ops.expand_dims(ops.greater_equal(rows, cols), 0)
            mask = causal if mask is None else ops.logical_and(mask, causal)
        return mask

    def _apply_scores(self, scores, value, scores_mask, training):
        if scores_mask is not None:
            # As Keras: subtract a large offset rather than set -inf, so that a row with
            # nothing to attend to gets a uniform softmax, not NaN.
            offset = _masked_score_offset(scores.dtype)
            scores = ops.where(scores_mask, scores, ops.subtract(scores, offset))
        weights = ops.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            weights = random.dropout(weights, self.dropout, seed=self.seed_generator)
        return ops.matmul(weights, value), weights

    # -- call -----------------------------------------------------------------------------
    def call(self, inputs, mask=None, training=False, return_attention_scores=False,
             use_causal_mask=False):
        self._check_inputs(inputs, mask)
        self._check_shapes([x.shape for x in inputs])
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask, value_mask = (mask[0], mask[1]) if mask else (None, None)
        scores = self._calculate_scores(query, key)
        scores_mask = self._scores_mask(scores, value_mask, use_causal_mask)
        outputs, weights = self._apply_scores(scores, value, scores_mask, training)
        if query_mask is not None:
            keep = ops.expand_dims(ops.cast(query_mask, "bool"), -1)
            outputs = ops.where(keep, outputs, ops.zeros_like(outputs))
        if return_attention_scores:
            return outputs, weights
        return outputs

    def compute_mask(self, inputs, previous_mask):
        self._check_inputs(inputs, previous_mask)
        if previous_mask is None or previous_mask[0] is None:
            return None
        return previous_mask[0]  # the query's mask, which Keras puts on the output

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape[0])[:-1], input_shape[1][-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False,
                            training=None, use_causal_mask=False):
        self._check_inputs(inputs, mask)
        shapes = [tuple(x.shape) for x in inputs]
        self._check_shapes(shapes)
        outputs = KerasTensor(self.compute_output_shape(shapes), self.compute_dtype)
        if not return_attention_scores:
            return outputs
        key_steps = shapes[-1][-2]
        return outputs, KerasTensor((*shapes[0][:-1], key_steps), self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}
