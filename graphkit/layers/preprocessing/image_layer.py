"""The base of the image preprocessing layers: one image (h, w, c) or a batch (b, h, w, c)
(channels_first: (c, h, w) or (b, c, h, w)), as Keras's image preprocessing layers take."""
from graphkit import ops, random
from graphkit.layers.layer import Layer
from graphkit.layers.pooling.arguments import normalize_data_format


class ImageLayer(Layer):
    """Holds `data_format` and finds the height and width axes of rank-3 or rank-4 images."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, type(self).__name__)
        self.built = True  # no weights

    def image_axes(self, shape):
        """(height axis, width axis) of images of this `shape`, counted from the front."""
        if len(shape) not in (3, 4):
            raise ValueError(f"{type(self).__name__} '{self.name}': expected images of rank 3 "
                             f"(one image) or 4 (a batch). Received: inputs.shape="
                             f"{tuple(shape)}")
        first = len(shape) - (3 if self.data_format == "channels_last" else 2)
        return first, first + 1

    def image_size(self, shape):
        """(height, width) of images of this `shape`; both must be known."""
        h_axis, w_axis = self.image_axes(shape)
        if shape[h_axis] is None or shape[w_axis] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the height and width of "
                             f"the images must be known. Received: inputs.shape="
                             f"{tuple(shape)}")
        return shape[h_axis], shape[w_axis]

    def with_image_size(self, shape, height, width):
        shape = list(shape)
        h_axis, w_axis = self.image_axes(shape)
        shape[h_axis], shape[w_axis] = height, width
        return tuple(shape)

    def per_image_shape(self, shape):
        """The shape of one random draw per image: (b, 1, 1, 1), or (1, 1, 1) unbatched."""
        return (shape[0], 1, 1, 1) if len(shape) == 4 else (1, 1, 1)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


def check_size(value, arg, layer):
    """A positive int image size, else a ValueError naming the layer and argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{layer}: `{arg}` must be a positive int. Received: {arg}={value!r}")
    return value


def factor_range(factor, bounds, arg, layer):
    """Keras's `_set_factor`: a number f -> (max(-f, low), f); a pair -> sorted; both
    within `bounds`."""
    error = (f"{layer}: `{arg}` must be a number or a list of two numbers in the range "
             f"[{bounds[0]}, {bounds[1]}]. Received: {arg}={factor!r}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or factor[0] > bounds[1] or factor[1] < bounds[0]:
            raise ValueError(error)
        return tuple(sorted(factor))
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or \
            not bounds[0] <= factor <= bounds[1]:
        raise ValueError(error)
    return max(-abs(factor), bounds[0]), abs(factor)


def value_range_pair(value_range, layer):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"{layer}: `value_range` must be a list of two numbers. "
                         f"Received: value_range={value_range!r}")
    return sorted(value_range)


class RandomImageLayer(ImageLayer):
    """An image layer that draws from a layer-owned `SeedGenerator` (so compiled code draws
    what eager code draws) and acts only in training: at inference it is the identity.

    As Keras's augmentation layers, `training` defaults to True: a bare call (`aug(images)`,
    or a model called directly) augments, while fit trains with it and evaluate and predict
    pass training=False."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.seed = seed
        self.seed_generator = random.SeedGenerator(seed)

    def call(self, inputs, training=True):
        if not training:
            return inputs
        self.image_axes(inputs.shape)  # checks the rank
        return self.augment(ops.cast(inputs, self.compute_dtype))

    def augment(self, images):
        raise NotImplementedError(f"{type(self).__name__} must define augment(images)")

    def per_image_uniform(self, images, minval=0.0, maxval=1.0):
        """One uniform number in [minval, maxval) per image, shaped to broadcast over it."""
        return random.uniform(self.per_image_shape(ops.shape(images)), minval, maxval,
                              dtype=self.compute_dtype, seed=self.seed_generator)

    def per_image_factor(self, images, low, high):
        """`per_image_uniform`, except that a degenerate range [a, a) gives a itself, as
        Keras's (JAX's) uniform does: the half-open sampler would give the float below a,
        and a factor fixed to one value must act exactly (e.g. a full-size erasing box)."""
        if low == high:
            return ops.full(self.per_image_shape(ops.shape(images)), float(low),
                            dtype=self.compute_dtype)
        return self.per_image_uniform(images, low, high)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
