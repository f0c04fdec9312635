"""`RMSNormalization`: scales each example by the inverse root mean square over `axis`
(Zhang & Sennrich, 2019), with a learned `scale`; no centering."""
from graphkit import ops
from graphkit.layers.layer import Layer
from graphkit.layers.normalization.arguments import axis_argument, normalized_axes


class RMSNormalization(Layer):
    """`x * rsqrt(mean(x ** 2) + epsilon) * scale`, the mean over `axis` (Keras 3's layer:
    `scale` spans those axes, epsilon 1e-6)."""

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis_argument(axis, "RMSNormalization")
        self.epsilon = epsilon
        self.supports_masking = True

    def build(self, input_shape):
        axes = normalized_axes(self, len(input_shape))
        shape = tuple(input_shape[a] for a in axes)
        if None in shape:
            raise ValueError(f"RMSNormalization '{self.name}': the normalized axes {axes} "
                             f"must have known sizes. Received: input_shape="
                             f"{tuple(input_shape)}")
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        self.scale = self.add_weight(name="scale", shape=shape, initializer="ones")
        self.built = True

    def call(self, inputs):
        return ops.rms_normalization(inputs, scale=self.scale, axis=self.axis,
                                     epsilon=self.epsilon)

    def compute_output_shape(self, input_shape):
        normalized_axes(self, len(input_shape))
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
