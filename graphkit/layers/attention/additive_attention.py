"""`AdditiveAttention`: Bahdanau-style attention, as Keras 3's
`keras.layers.AdditiveAttention`; masks, dropout and the causal mask as `Attention`."""
from graphkit import ops
from graphkit.layers.attention.attention import Attention


class AdditiveAttention(Attention):
    """`scores = sum(scale * tanh(q + k))` over the features, for every pair of query and
    key steps; the weight `scale` (dim,) (when `use_scale`) is Keras's."""

    _score_modes = ("dot",)  # not an argument: the scores are always additive

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self._check_shapes(input_shape)
        dim = input_shape[0][-1]
        if dim is None:
            raise ValueError(f"AdditiveAttention '{self.name}': the last dimension of the "
                             f"query must be known. Received: query shape "
                             f"{tuple(input_shape[0])}")
        self.scale = self.add_weight(name="scale", shape=(dim,),
                                     initializer="glorot_uniform") if self.use_scale else None
        self.concat_score_weight = None
        self.built = True

    def _calculate_scores(self, query, key):
        pairs = ops.tanh(ops.add(ops.expand_dims(query, -2), ops.expand_dims(key, -3)))
        if self.scale is not None:
            pairs = ops.multiply(self.scale, pairs)
        return ops.sum(pairs, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
