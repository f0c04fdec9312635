"""`RandomFlip`: in training, each image flipped left-right and/or up-down with
probability 1/2."""
from graphkit import ops
from graphkit.layers.preprocessing.image_layer import RandomImageLayer

HORIZONTAL, VERTICAL = "horizontal", "vertical"
HORIZONTAL_AND_VERTICAL = "horizontal_and_vertical"
MODES = (HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL)


class RandomFlip(RandomImageLayer):
    """`mode` 'horizontal' flips the width axis, 'vertical' the height axis. With
    'horizontal_and_vertical', one draw per image decides both, as in Keras: an image is
    either rotated by 180 degrees or left alone."""

    def __init__(self, mode=HORIZONTAL_AND_VERTICAL, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in MODES:
            raise ValueError(f"RandomFlip '{self.name}': `mode` must be one of {MODES}. "
                             f"Received: mode={mode!r}")
        self.mode = mode

    def augment(self, images):
        flips = ops.less_equal(self.per_image_uniform(images), 0.5)
        h_axis, w_axis = self.image_axes(images.shape)
        if self.mode != VERTICAL:
            images = ops.where(flips, ops.flip(images, axis=w_axis), images)
        if self.mode != HORIZONTAL:
            images = ops.where(flips, ops.flip(images, axis=h_axis), images)
        return images

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
