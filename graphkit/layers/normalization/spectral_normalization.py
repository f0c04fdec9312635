"""`SpectralNormalization` (Miyato et al., 2018): divides a layer's kernel by its largest
singular value, estimated by power iteration, to bound the layer's Lipschitz constant.

As Keras 3: in training, each call runs `power_iterations` steps from the stored vector
`u` (a non-trainable `(1, units)` weight), then *assigns* the new `u` and the normalized
kernel to their variables before calling the wrapped layer; a kernel of all zeros is left
as it is. Outside training the wrapped layer runs on its kernel as it stands. Weights (and
their order) are Keras's: the kernel, `vector_u`, then the wrapped layer's others.
"""
from graphkit import initializers, ops
from graphkit.layers.core.wrapper import Wrapper
from graphkit.layers.input_spec import InputSpec


class SpectralNormalization(Wrapper):
    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, int) \
                or power_iterations <= 0:
            raise ValueError(f"SpectralNormalization '{self.name}': `power_iterations` must "
                             f"be a positive integer. Received: "
                             f"power_iterations={power_iterations!r}")
        self.power_iterations = power_iterations

    def build(self, input_shape):
        super().build(input_shape)
        self.input_spec = InputSpec(min_ndim=1, axes={-1: input_shape[-1]})
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None:
            kernel = getattr(self.layer, "embeddings", None)
        if kernel is None:
            raise ValueError(f"SpectralNormalization '{self.name}': the wrapped layer "
                             f"({type(self.layer).__name__}) has no `kernel` nor `embeddings` "
                             f"to normalize")
        # Tracked here too (as Keras does), so the kernel comes first in `weights`.
        self.kernel = kernel
        self.vector_u = self.add_weight(
            name="vector_u", shape=(1, kernel.shape[-1]),
            initializer=initializers.TruncatedNormal(stddev=0.02), trainable=False,
            dtype=kernel.dtype)
        self.built = True

    def call(self, inputs, training=False):
        if training:
            vector_u, kernel = self.normalized_weights()
            self.vector_u.assign(vector_u)
            self.kernel.assign(kernel)
        return ops.cast(self.layer(inputs), inputs.dtype)

    def normalized_weights(self):
        """`(u, kernel / sigma)` after the power iterations; `(u, kernel)` unchanged for an
        all-zero kernel (whose sigma is 0)."""
        units = self.kernel.shape[-1]
        kernel = ops.convert_to_tensor(self.kernel)
        weights = ops.reshape(kernel, (-1, units))
        u = ops.convert_to_tensor(self.vector_u)
        for _ in range(self.power_iterations):
            v = ops.normalize(ops.matmul(u, ops.transpose(weights)), axis=-1)
            u = ops.normalize(ops.matmul(v, weights), axis=-1)
        # As Keras: sigma's gradient reaches the kernel only through `weights`.
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        sigma = ops.matmul(ops.matmul(v, weights), ops.transpose(u))  # (1, 1)
        # A selection, not Python control flow, so that it compiles; sigma is replaced by
        # 1 where the kernel is all zero, so the branch not taken holds no NaN either.
        zero = ops.all(ops.equal(kernel, 0))
        sigma = ops.where(zero, ops.ones_like(sigma), sigma)
        new_u = ops.where(zero, ops.convert_to_tensor(self.vector_u), u)
        new_kernel = ops.where(zero, kernel, ops.divide(kernel, ops.reshape(sigma, ())))
        return ops.cast(new_u, self.vector_u.dtype), ops.cast(new_kernel, self.kernel.dtype)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}
