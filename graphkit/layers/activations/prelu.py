"""`PReLU`: a leaky rectifier whose slope `alpha` is learned, one per input element (or per
channel, with `shared_axes`)."""
from graphkit import constraints, initializers, ops, regularizers
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer


class PReLU(Layer):
    """`relu(x) - alpha * relu(-x)`, with `alpha` of the input's shape but the batch axis
    and the `shared_axes` (1-based, as Keras: `shared_axes=[1, 2]` shares over a feature
    map's height and width)."""

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None,
                 alpha_constraint=None, shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            self.shared_axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) \
                else [shared_axes]
            if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 1
                       for a in self.shared_axes):
                raise ValueError(f"PReLU '{self.name}': `shared_axes` must hold axes >= 1 "
                                 f"(axis 0 is the batch). Received: shared_axes="
                                 f"{shared_axes!r}")
        self.supports_masking = True

    def build(self, input_shape):
        shared = set(self.shared_axes or ())
        if shared and max(shared) >= len(input_shape):
            raise ValueError(f"PReLU '{self.name}': shared_axes {sorted(shared)} are out of "
                             f"range for inputs of shape {tuple(input_shape)}")
        shape = [1 if i in shared else input_shape[i] for i in range(1, len(input_shape))]
        if None in shape:
            raise ValueError(f"PReLU '{self.name}': the unshared axes need known sizes "
                             f"(alpha has one slope per element); received input_shape="
                             f"{tuple(input_shape)}, shared_axes={self.shared_axes}")
        self.alpha = self.add_weight(shape=shape, name="alpha",
                                     initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={
            i: input_shape[i] for i in range(1, len(input_shape)) if i not in shared})
        self.built = True

    def call(self, inputs):
        return ops.subtract(ops.relu(inputs), ops.multiply(self.alpha, ops.relu(
            ops.negative(inputs))))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes}
