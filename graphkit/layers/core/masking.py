"""`Masking`: marks timesteps whose features all equal `mask_value` as padding."""
from graphkit import ops
from graphkit.layers.layer import Layer


class Masking(Layer):
    """For inputs `(batch, timesteps, features)`, a timestep is masked (False) when every
    feature equals `mask_value`. Masked timesteps are zeroed in the output, and the mask
    `(batch, timesteps)` goes to the layers downstream."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def _keep(self, inputs, keepdims):
        return ops.any(ops.not_equal(inputs, self.mask_value), axis=-1, keepdims=keepdims)

    def compute_mask(self, inputs, mask=None):
        return self._keep(inputs, keepdims=False)

    def call(self, inputs):
        keep = self._keep(inputs, keepdims=True)
        return ops.where(keep, inputs, ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
