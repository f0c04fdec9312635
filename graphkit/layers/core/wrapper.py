"""`Wrapper`: Keras 3's abstract base class of layers that wrap another layer (built on
first use with the wrapper's input shape, serialized inside the wrapper's config)."""
from graphkit.layers.layer import Layer
from graphkit.saving import serialization


class Wrapper(Layer):
    """Holds `layer`; subclasses implement `call`. Not a layer to use by itself (its
    call() is the base class's, which raises)."""

    def __init__(self, layer, **kwargs):
        if isinstance(layer, dict):  # from a config: the wrapped layer's serialized form
            layer = serialization.deserialize_keras_object(layer)
        if not isinstance(layer, Layer):
            raise ValueError(f"{type(self).__name__}: `layer` must be a Layer instance. "
                             f"Received: layer={layer!r} (of type {type(layer).__name__})")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            with self.layer._name_scope():  # its weights are paths under the wrapper's
                self.layer.build(input_shape)
        self.built = True

    def get_config(self):
        return {**super().get_config(),
                "layer": serialization.serialize_keras_object(self.layer)}
