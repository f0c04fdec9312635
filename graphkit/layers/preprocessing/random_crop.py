"""`RandomCrop`: in training, a (height, width) box at a random place in the images."""
from graphkit import ops, random
from graphkit.layers.preprocessing.image_layer import RandomImageLayer, check_size
from graphkit.layers.preprocessing.resizing import aspect_crop_box, crop_images, resize_images


class RandomCrop(RandomImageLayer):
    """In training, images larger than (height, width) along both axes are cropped at one
    random offset per batch (uniform over the places the box fits); otherwise, as in Keras,
    the centered box of the target aspect ratio is taken and resized (bilinear) to
    (height, width). At inference the layer is the identity, as Keras 3's."""

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        layer = f"RandomCrop '{self.name}'"
        self.height = check_size(height, "height", layer)
        self.width = check_size(width, "width", layer)
        # Keras saves a drawn seed when none is given (the generator keeps None).
        self.seed = seed if seed is not None else random.make_default_seed()

    def augment(self, images):
        axes = self.image_axes(images.shape)
        height, width = self.image_size(images.shape)
        if height > self.height and width > self.width:
            images = self._random_slice(images, axes[0], height, self.height)
            return self._random_slice(images, axes[1], width, self.width)
        box = aspect_crop_box(height, width, self.height, self.width)
        return resize_images(crop_images(images, axes, box), axes, (self.height, self.width))

    def _random_slice(self, images, axis, size, new_size):
        # The offset is a traced value, so the slice is a gather of offset + arange.
        offset = random.uniform((), 0.0, float(size - new_size + 1), dtype="float32",
                                seed=self.seed_generator)
        positions = ops.add(ops.cast(offset, "int32"), ops.arange(new_size, dtype="int32"))
        return ops.take(images, positions, axis=axis)

    def compute_output_shape(self, input_shape):
        return self.with_image_size(input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
