"""`Discretization`: values -> the index of their bin, from given boundaries or from
approximate quantiles learned by `adapt()` (Keras's summary algorithm, in NumPy)."""
import numpy as np

from graphkit import ops
from graphkit.core.keras_tensor import KerasTensor
from graphkit.layers.layer import Layer
from graphkit.layers.preprocessing.category_encoding import (check_output_mode,
                                                             encode_categories)

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


# -- Keras's approximate quantile summaries: [values; weights], float32 -------------------

def _summarize(values, epsilon):
    values = np.sort(np.reshape(values, [-1]))
    # Keras's arithmetic exactly: the int() of `step` below is sensitive to its rounding.
    step = max(values.size / (1.0 / epsilon), 1)
    boundaries = values[int(step - 1)::int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])


def _merge_summaries(summary, other, epsilon):
    merged = np.concatenate((summary, other), axis=1)
    return _compress_summary(np.take(merged, np.argsort(merged[0]), axis=1), epsilon)


def _compress_summary(summary, epsilon):
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum_weights = summary[1].cumsum()
    cum_weight_percents = cum_weights / cum_weights[-1]
    new_bins = np.interp(percents, cum_weight_percents, summary[0])
    cum_weights = np.interp(percents, cum_weight_percents, cum_weights)
    new_weights = cum_weights - np.concatenate((np.array([0]), cum_weights[:-1]))
    return np.stack((new_bins, new_weights)).astype("float32")


def _empty_summary():
    return np.array([[], []], dtype="float32")


def digitize(values, boundaries):
    """NumPy's `digitize` for increasing boundaries: how many boundaries are <= each value
    (NaN: past the last bin, as jnp.digitize)."""
    bins = ops.cast(ops.convert_to_tensor(np.asarray(boundaries)), values.dtype)
    at_or_above = ops.greater_equal(ops.expand_dims(values, -1), bins)
    counts = ops.sum(ops.cast(at_or_above, "int32"), axis=-1)
    return ops.where(ops.isnan(values), len(boundaries), counts)


class Discretization(Layer):
    """Bins values by `bin_boundaries` (bins (-inf, b0), [b0, b1), ..., [b_last, inf)),
    or by `num_bins` quantile boundaries that `adapt(data)` learns within `epsilon`.
    output_mode 'int' gives int32 bin indices; 'one_hot', 'multi_hot' and 'count' encode
    them as CategoryEncoding does."""

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, name=None):
        super().__init__(name=name, dtype=dtype)
        layer = f"Discretization '{self.name}'"
        check_output_mode(output_mode, OUTPUT_MODES, layer)
        if sparse:
            raise ValueError(f"{layer}: sparse=True is not supported (graphkit has no sparse "
                             f"tensors); expected sparse=False. Received: sparse={sparse!r}")
        if num_bins is not None and num_bins < 0:
            raise ValueError(f"{layer}: `num_bins` must be >= 0. Received: "
                             f"num_bins={num_bins}")
        if (num_bins is None) == (bin_boundaries is None):
            raise ValueError(f"{layer}: expected exactly one of `num_bins` and "
                             f"`bin_boundaries`. Received: num_bins={num_bins} and "
                             f"bin_boundaries={bin_boundaries}")
        self.bin_boundaries = None if bin_boundaries is None else list(bin_boundaries)
        self.num_bins, self.epsilon = num_bins, epsilon
        self.output_mode, self.sparse = output_mode, False
        self.summary = None if bin_boundaries is not None else _empty_summary()
        self.built = True  # no weights: the boundaries are part of the config

    @property
    def output_dtype(self):
        return "int32" if self.output_mode == "int" else self.compute_dtype

    def adapt(self, data):
        """Learns `num_bins` quantile boundaries from an array (all at once) or an iterable
        of batches (their summaries merged, as Keras does)."""
        if self.num_bins is None:
            raise ValueError(f"Discretization '{self.name}'.adapt: the layer was given "
                             "`bin_boundaries`; set `num_bins` instead to adapt it")
        batches = [data] if hasattr(data, "shape") else data
        self.summary = _empty_summary()
        for batch in batches:
            batch = np.asarray(batch[0] if isinstance(batch, tuple) else batch)
            self.summary = _merge_summaries(_summarize(batch.astype("float32"), self.epsilon),
                                            self.summary, self.epsilon)
        self.bin_boundaries = _compress_summary(self.summary, 1.0 / self.num_bins)[0, :-1] \
            .tolist()

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(f"Discretization '{self.name}': expected `bin_boundaries` or a "
                             "call to adapt() before the layer is used. Received neither")
        indices = digitize(ops.cast(inputs, self.compute_dtype), self.bin_boundaries)
        return encode_categories(indices, self.output_mode, len(self.bin_boundaries) + 1,
                                 self.output_dtype)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None \
            else self.num_bins
        if self.output_mode == "one_hot":
            if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
                return input_shape[:-1] + (depth,)
            return input_shape + (depth,)
        if len(input_shape) >= 2:
            return (input_shape[0],) + input_shape[2:] + (depth,)
        return (depth,)

    def compute_output_spec(self, inputs):
        # As Keras: 'int' gives int32 indices symbolically too (the base class would give
        # the float compute dtype, so a model's output dtype disagreed with its predictions).
        return KerasTensor(self.compute_output_shape(inputs.shape), self.output_dtype)

    def get_config(self):
        config = super().get_config()
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode,
                "sparse": self.sparse, "name": config["name"], "dtype": config["dtype"]}

    @classmethod
    def from_config(cls, config):
        # An adapted layer's config has both: the boundaries are set after construction.
        config = dict(config)
        bin_boundaries = config.pop("bin_boundaries", None)
        if bin_boundaries is None or config.get("num_bins") is None:
            return super().from_config({**config, "bin_boundaries": bin_boundaries})
        layer = super().from_config(config)
        layer.bin_boundaries = list(bin_boundaries)
        return layer
