"""`Softmax`: the softmax over `axis` (an int or a list), with an optional mask whose
False positions get zero probability."""
from graphkit import activations, ops
from graphkit.layers.layer import Layer


def masked_logit(dtype):
    """Keras's large negative logit for masked positions: finite in the logits' dtype, so
    a fully masked row gets a finite softmax, not NaN (-1e9 is -inf in float16)."""
    return -3e4 if dtype == "float16" else -1e9


class Softmax(Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, tuple) else axis
        self.supports_masking = True
        self.built = True  # no weights

    def call(self, inputs, mask=None):
        if mask is not None:
            mask = self._boolean_mask(inputs, mask)
            inputs = ops.where(mask, inputs, ops.cast(masked_logit(inputs.dtype),
                                                      inputs.dtype))
        axis = self._checked_axis(len(inputs.shape))
        outputs = activations.softmax(inputs, axis=axis)
        if mask is not None:
            # As Keras: a fully masked row gives zeros, not a uniform distribution.
            outputs = ops.where(mask, outputs, ops.zeros_like(outputs))
        return outputs

    def _checked_axis(self, ndim):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if not all(isinstance(a, int) and -ndim <= a < ndim for a in axes):
            raise ValueError(f"Softmax '{self.name}': `axis` must name axes of the inputs, "
                             f"which have rank {ndim}. Received: axis={self.axis!r}")
        return tuple(axes) if isinstance(self.axis, list) else self.axis

    def _boolean_mask(self, inputs, mask):
        mask = ops.convert_to_tensor(mask)
        ok = len(mask.shape) <= len(inputs.shape) and all(
            m is None or i is None or m in (1, i)
            for m, i in zip(reversed(mask.shape), reversed(inputs.shape)))
        if not ok:
            raise ValueError(f"Softmax '{self.name}': the mask must broadcast to the inputs "
                             f"(each mask dimension 1 or the input's, from the right). "
                             f"Received: inputs.shape={tuple(inputs.shape)}, "
                             f"mask.shape={tuple(mask.shape)}")
        return mask if mask.dtype == "bool" else ops.greater(mask, ops.cast(0.5, mask.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
