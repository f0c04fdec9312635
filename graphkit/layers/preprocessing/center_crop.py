"""`CenterCrop`: the centered (height, width) box of each image."""
from graphkit import ops
from graphkit.layers.preprocessing.image_layer import ImageLayer, check_size
from graphkit.layers.preprocessing.resizing import aspect_crop_box, crop_images, resize_images


class CenterCrop(ImageLayer):
    """Crops the centered (height, width) box. Images smaller than the box along an axis
    are first cropped to the target aspect ratio and resized (bilinear) to it, as Keras's
    `smart_resize`."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        layer = f"CenterCrop '{self.name}'"
        self.height = check_size(height, "height", layer)
        self.width = check_size(width, "width", layer)

    def call(self, inputs):
        axes = self.image_axes(inputs.shape)
        images = ops.cast(inputs, self.compute_dtype)
        height, width = self.image_size(images.shape)
        if height >= self.height and width >= self.width:
            box = ((height - self.height) // 2, (width - self.width) // 2,
                   self.height, self.width)
            return crop_images(images, axes, box)
        box = aspect_crop_box(height, width, self.height, self.width)
        return resize_images(crop_images(images, axes, box), axes, (self.height, self.width))

    def compute_output_shape(self, input_shape):
        return self.with_image_size(input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
