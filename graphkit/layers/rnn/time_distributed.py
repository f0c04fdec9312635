"""`TimeDistributed`: applies one layer to every time step of a sequence, with the same
weights at each step."""
from graphkit import ops
from graphkit.layers.layer import Layer
from graphkit.saving import serialization


class TimeDistributed(Layer):
    """`TimeDistributed(Dense(8))` on `(batch, steps, features)` gives `(batch, steps, 8)`.

    As in Keras, the wrapped layer runs once per step on `(batch, ...)` slices (so a
    BatchNormalization takes each step's batch statistics, and a Dropout draws per step),
    with the step's slice of a `(batch, steps)` mask when its call() takes `mask`; the mask
    passes through.
    """

    def __init__(self, layer, **kwargs):
        if isinstance(layer, dict):
            layer = serialization.deserialize_keras_object(layer)
        if not isinstance(layer, Layer):
            raise ValueError("TimeDistributed: `layer` must be a Layer instance. Received: "
                             f"layer={layer!r} (of type {type(layer).__name__})")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def _step_shape(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed '{self.name}': the inputs must have at least "
                             "3 dimensions (batch, steps, ...). Received: input_shape="
                             f"{tuple(input_shape)}")
        return (input_shape[0],) + tuple(input_shape[2:])

    def build(self, input_shape):
        with self.layer._name_scope():
            if not self.layer.built:
                self.layer.build(self._step_shape(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape):
        step = self.layer.compute_output_shape(self._step_shape(input_shape))
        return (step[0], input_shape[1]) + tuple(step[1:])

    def call(self, inputs, training=None, mask=None):
        if mask is not None and tuple(mask.shape[:2]) != tuple(inputs.shape[:2]):
            raise ValueError(f"TimeDistributed '{self.name}': the mask's first two "
                             f"dimensions must be the inputs' (batch, steps). Received: "
                             f"inputs.shape={tuple(inputs.shape)}, "
                             f"mask.shape={tuple(mask.shape)}")
        steps = []
        for t in range(inputs.shape[1]):
            kwargs = {"training": training}
            if mask is not None and self.layer._call_has_mask_arg:
                kwargs["mask"] = mask[:, t]  # as Keras: only to a call() that takes one
            steps.append(self.layer(inputs[:, t], **kwargs))
        return ops.stack(steps, axis=1)

    def get_config(self):
        config = serialization.serialize_keras_object(self.layer)
        config.pop("build_config", None)  # built by the wrapper
        return {**super().get_config(), "layer": config}
