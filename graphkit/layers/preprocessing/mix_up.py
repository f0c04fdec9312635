"""`MixUp` (Zhang et al., 2018): each image (and its label) blended with another image of the
batch, chosen by a random permutation, with a weight lambda ~ Beta(alpha, alpha) per image:
x' = lambda x + (1 - lambda) x[perm], as Keras 3's `keras.layers.MixUp`.

As Keras's, it takes the images alone or a dict {"images": ..., "labels": ...} (labels one
hot or soft, (batch, classes)), and acts only in training (training defaults to True, as for
every augmentation layer)."""
from graphkit import ops, random
from graphkit.layers.preprocessing.image_layer import RandomImageLayer


class MixUp(RandomImageLayer):
    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
            raise ValueError(f"MixUp '{self.name}': `alpha` must be a positive number. "
                             f"Received: alpha={alpha!r}")
        self.alpha = float(alpha)

    def call(self, inputs, training=True):
        images = inputs["images"] if isinstance(inputs, dict) else inputs
        self.image_axes(images.shape)  # checks the rank
        if not training:
            return inputs
        images = ops.cast(images, self.compute_dtype)
        batch = images.shape[0] if images.ndim == 4 else 1
        if batch is None:
            raise ValueError(f"MixUp '{self.name}': the batch size must be known to draw "
                             f"the permutation. Received: images.shape={tuple(images.shape)}")
        # As Keras: the permutation, then the weights, from the layer's one stream.
        order = random.shuffle(ops.arange(batch), seed=self.seed_generator)
        weight = random.beta((batch,), self.alpha, self.alpha, dtype=self.compute_dtype,
                             seed=self.seed_generator)
        mixed = self._mix(images, order, weight) if images.ndim == 4 else images
        if not isinstance(inputs, dict):
            return mixed
        out = dict(inputs, images=mixed)
        if "labels" in inputs:
            labels = ops.cast(inputs["labels"], self.compute_dtype)
            out["labels"] = self._mix(labels, order, weight)
        return out

    @staticmethod
    def _mix(x, order, weight):
        w = ops.reshape(weight, (-1,) + (1,) * (x.ndim - 1))
        return w * x + (1.0 - w) * ops.take(x, order, axis=0)

    def compute_output_spec(self, inputs, training=True):
        return inputs

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}
