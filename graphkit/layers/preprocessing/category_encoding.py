"""`CategoryEncoding`: integer category indices -> one-hot, multi-hot or count vectors."""
from graphkit import ops
from graphkit.layers.layer import Layer

OUTPUT_MODES = ("multi_hot", "one_hot", "count")


def encode_categories(indices, output_mode, depth, dtype, count_weights=None):
    """Keras's `encode_categorical_inputs` (dense): 'int' casts; 'one_hot' drops a trailing
    axis of 1; 'multi_hot' and 'count' reduce axis 1 of batched inputs (axis 0 of a single
    sample) into `depth` slots. Indices outside [0, depth) count nowhere."""
    if output_mode == "int":
        return ops.cast(indices, dtype)
    if len(indices.shape) == 0:
        indices = ops.expand_dims(indices, -1)
    if output_mode == "one_hot":
        if len(indices.shape) > 1 and indices.shape[-1] == 1:
            indices = ops.squeeze(indices, -1)
        return ops.one_hot(indices, depth, dtype=dtype)
    if output_mode == "multi_hot":
        return ops.multi_hot(indices, depth, dtype=dtype)
    reduction_axis = 1 if len(indices.shape) > 1 else 0
    if count_weights is None:
        return ops.sum(ops.one_hot(indices, depth, dtype=dtype), axis=reduction_axis)
    hot = ops.one_hot(indices, depth, dtype=count_weights.dtype)
    return ops.sum(hot * ops.expand_dims(count_weights, -1), axis=reduction_axis)


def check_output_mode(output_mode, allowed, layer):
    if output_mode not in allowed:
        raise ValueError(f"{layer}: `output_mode` must be one of {allowed}. "
                         f"Received: output_mode={output_mode!r}")


class CategoryEncoding(Layer):
    """Encodes integer indices in [0, num_tokens). `count_weights` (same shape as the
    inputs, output_mode='count' only) weighs each index's count."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        layer = f"CategoryEncoding '{self.name}'"
        output_mode = "multi_hot" if output_mode == "binary" else output_mode  # Keras's alias
        check_output_mode(output_mode, OUTPUT_MODES, layer)
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, int) or num_tokens < 1:
            raise ValueError(f"{layer}: `num_tokens` must be an int >= 1 (use IntegerLookup "
                             f"when the number of tokens is unknown). Received: "
                             f"num_tokens={num_tokens!r}")
        if sparse:
            raise ValueError(f"{layer}: sparse=True is not supported (graphkit has no sparse "
                             f"tensors); expected sparse=False. Received: sparse={sparse!r}")
        self.num_tokens, self.output_mode, self.sparse = num_tokens, output_mode, False
        self.built = True  # no weights

    def call(self, inputs, count_weights=None):
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError(f"CategoryEncoding '{self.name}': `count_weights` is only "
                                 f"used with output_mode='count'. Received output_mode="
                                 f"{self.output_mode!r} and count_weights")
            count_weights = ops.cast(count_weights, self.compute_dtype)
        return encode_categories(inputs, self.output_mode, self.num_tokens,
                                 self.compute_dtype, count_weights)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if not input_shape:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and (input_shape[-1] != 1 or len(input_shape) == 1):
            return input_shape + (self.num_tokens,)
        return input_shape[:-1] + (self.num_tokens,)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}
