"""`SpatialDropout1D/2D/3D`: Dropout that drops whole feature maps (one draw per example
and channel), for convolutional features whose neighbours are correlated."""
from graphkit import random
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.pooling.arguments import normalize_data_format
from graphkit.layers.regularization.dropout import Dropout


class _SpatialDropout(Dropout):
    rank = None

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = normalize_data_format(data_format, type(self).__name__)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _noise_shape(self, inputs):
        batch, ones = inputs.shape[0], (1,) * self.rank
        channels = inputs.shape[-1 if self.data_format == "channels_last" else 1]
        return ((batch, *ones, channels) if self.data_format == "channels_last"
                else (batch, channels, *ones))

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            return random.dropout(inputs, self.rate, noise_shape=self._noise_shape(inputs),
                                  seed=self.seed_generator)
        return inputs

    def get_config(self):
        config = super().get_config()
        # As Keras's: the noise shape is the layer's own, and its constructor takes no
        # `trainable` (a config written here must load in Keras).
        del config["noise_shape"], config["trainable"]
        return {**config, "data_format": self.data_format}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of (batch, steps, channels) (Keras's has no data_format)."""
    rank = 1

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, None, seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return config


class SpatialDropout2D(_SpatialDropout):
    rank = 2


class SpatialDropout3D(_SpatialDropout):
    rank = 3
