"""The batch-mixing augmentations of Keras 3: `MixUp` (Zhang et al., 2018) and `CutMix`
(Yun et al., 2019). Each image (and its label) is combined with another image of the batch,
chosen by a random permutation:
- MixUp blends whole images, x' = lambda x + (1 - lambda) x[perm], lambda ~ Beta(alpha, alpha);
- CutMix pastes a box of x[perm] into x, the box's area a fraction 1 - lambda of the image.
Labels mix with the weight the images got. As Keras's, they take the images alone or a dict
{"images": ..., "labels": ...} (labels one hot or soft, (batch, classes)), leave a single
image (rank 3) as it is, and act only in training (training defaults to True, as for every
augmentation layer)."""
from graphkit import ops, random
from graphkit.layers.preprocessing.image_layer import RandomImageLayer, factor_range


class BatchMixing(RandomImageLayer):
    """The shared call: a subclass's `mix(images)` gives (mixed images, permutation, the
    per-image weight of the original in the labels)."""

    def call(self, inputs, training=True):
        images = inputs["images"] if isinstance(inputs, dict) else inputs
        self.image_axes(images.shape)  # checks the rank
        if not training or images.ndim == 3:
            return inputs
        images = ops.cast(images, self.compute_dtype)
        if images.shape[0] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the batch size must be "
                             f"known to draw the permutation. Received: images.shape="
                             f"{tuple(images.shape)}")
        mixed, order, weight = self.mix(images)
        if not isinstance(inputs, dict):
            return mixed
        out = dict(inputs, images=mixed)
        if "labels" in inputs:
            labels = ops.cast(inputs["labels"], self.compute_dtype)
            out["labels"] = blend(labels, order, weight)
        return out

    def mix(self, images):
        raise TypeError(f"{type(self).__name__} must define mix(images)")

    def compute_output_spec(self, inputs, training=True):
        return inputs


def blend(x, order, weight):
    """weight x + (1 - weight) x[order], one weight per row of the batch."""
    w = ops.reshape(weight, (-1,) + (1,) * (x.ndim - 1))
    return w * x + (1.0 - w) * ops.take(x, order, axis=0)


class MixUp(BatchMixing):
    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
            raise ValueError(f"MixUp '{self.name}': `alpha` must be a positive number. "
                             f"Received: alpha={alpha!r}")
        self.alpha = float(alpha)

    def mix(self, images):
        batch = images.shape[0]
        # As Keras: the permutation, then the weights, from the layer's one stream.
        order = random.shuffle(ops.arange(batch), seed=self.seed_generator)
        weight = random.beta((batch,), self.alpha, self.alpha, dtype=self.compute_dtype,
                             seed=self.seed_generator)
        return blend(images, order, weight), order, weight

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class CutMix(BatchMixing):
    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, (0.0, 1.0), "factor", f"CutMix '{self.name}'")

    def mix(self, images):
        batch = images.shape[0]
        height, width = self.image_size(images.shape)
        # As Keras: alpha ~ U(factor) + 1e-6, then the weights, the boxes (x, then y),
        # and last the permutation, all from the layer's one stream.
        alpha = ops.add(random.uniform((), self.factor[0], self.factor[1],
                                       dtype=self.compute_dtype, seed=self.seed_generator),
                        1e-6)
        weight = random.beta((batch,), alpha, alpha, dtype=self.compute_dtype,
                             seed=self.seed_generator)
        ratio = ops.sqrt(1.0 - weight)
        x0, x1 = self._box_bounds(batch, width, ratio)
        y0, y1 = self._box_bounds(batch, height, ratio)
        order = random.shuffle(ops.arange(batch), seed=self.seed_generator)
        inside = self._box_mask(images, height, width, (x0, x1, y0, y1))
        mixed = ops.where(inside, ops.take(images, order, axis=0), images)
        # the labels' weight is the image area each image keeps
        kept = 1.0 - (x1 - x0) * (y1 - y0) / float(width * height)
        return mixed, order, kept

    def _box_bounds(self, batch, length, ratio):
        size = ratio * float(length)
        start = random.uniform((batch,), 0.0, 1.0, dtype=self.compute_dtype,
                               seed=self.seed_generator) * (float(length) - size)
        return start, start + size

    def _box_mask(self, images, height, width, corners):
        rows = ops.arange(height, dtype=self.compute_dtype)
        cols = ops.arange(width, dtype=self.compute_dtype)
        x0, x1, y0, y1 = (ops.reshape(c, (-1, 1, 1)) for c in corners)
        inside = ops.logical_and(
            ops.logical_and(cols[None, None, :] >= x0, cols[None, None, :] < x1),
            ops.logical_and(rows[None, :, None] >= y0, rows[None, :, None] < y1))
        channel_axis = -1 if self.data_format == "channels_last" else 1
        return ops.expand_dims(inside, channel_axis)  # broadcasts over the channels

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
