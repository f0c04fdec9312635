"""`AlphaDropout`: dropout for self-normalizing (SELU) networks, which keeps the inputs'
mean and variance instead of zeroing."""
from graphkit import ops, random
from graphkit.layers.regularization.dropout import Dropout

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class AlphaDropout(Dropout):
    """In training, each input is set with probability `rate` to SELU's negative saturation
    value `-alpha * scale`, and the result is mapped by `a x + b` so that inputs of mean 0
    and variance 1 keep them (Klambauer et al., 2017; Keras's formulas)."""

    def call(self, inputs, training=False):
        if not (training and self.rate > 0):
            return inputs
        shape = tuple(inputs.shape) if self.noise_shape is None else tuple(
            size if d is None else d for d, size in zip(self.noise_shape, inputs.shape))
        kept = ops.cast(ops.greater_equal(
            random.uniform(shape, seed=self.seed_generator), self.rate), inputs.dtype)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        dropped = ops.add(ops.multiply(inputs, kept),
                          ops.multiply(alpha_p, ops.subtract(1.0, kept)))
        return ops.add(ops.multiply(a, dropped), b)


