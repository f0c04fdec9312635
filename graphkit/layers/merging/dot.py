"""`Dot` and its functional form `dot`: the dot product of two batched inputs along one axis
of each, as Keras 3's `keras.layers.Dot` (its `batch_dot`)."""
import string

from graphkit import ops
from graphkit.layers.merging.base_merge import Merge


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class Dot(Merge):
    """`[x, y]` -> the sum over `x`'s axis `axes[0]` and `y`'s axis `axes[1]` of their
    product, sample by sample: the output has `x`'s other axes, then `y`'s other non-batch
    axes, and shape `(batch, 1)` when nothing else is left. With `normalize=True` both
    inputs are first L2-normalized along those axes (the cosine proximity). Axis 0, the
    batch, cannot be reduced. The output has no mask.
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(_is_int(a) for a in axes):
                raise ValueError(f"Dot '{self.name}': `axes` must be an int or a pair of "
                                 f"ints. Received: axes={axes!r}")
            axes = list(axes)
        elif not _is_int(axes):
            raise TypeError(f"Dot '{self.name}': `axes` must be an int or a pair of ints. "
                            f"Received: axes={axes!r}")
        self.axes = axes
        self.normalize = bool(normalize)
        self.supports_masking = True

    def _pair(self, input_shape):
        """The two input shapes, checked to be a list of two of rank >= 2."""
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or \
                not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(f"Dot '{self.name}': should be called on a list of 2 inputs. "
                             f"Received: input_shape={input_shape!r}")
        shape1, shape2 = tuple(input_shape[0]), tuple(input_shape[1])
        if len(shape1) < 2 or len(shape2) < 2:
            raise ValueError(f"Dot '{self.name}': both inputs must have a batch axis and at "
                             f"least one more. Received shapes {shape1} and {shape2}")
        return shape1, shape2

    def _reduced_axes(self, shape1, shape2):
        """The non-negative axis of each input that the product sums over."""
        axes = [self.axes, self.axes] if _is_int(self.axes) else self.axes
        reduced = []
        for axis, shape in zip(axes, (shape1, shape2)):
            if not -len(shape) <= axis < len(shape) or axis % len(shape) == 0:
                raise ValueError(f"Dot '{self.name}': axis {axis} is out of range or the "
                                 f"batch axis for an input of shape {shape}. Received: "
                                 f"axes={self.axes!r}")
            reduced.append(axis % len(shape))
        return reduced

    def build(self, input_shape):
        shape1, shape2 = self._pair(input_shape)
        a1, a2 = self._reduced_axes(shape1, shape2)
        if None not in (shape1[a1], shape2[a2]) and shape1[a1] != shape2[a2]:
            raise ValueError(f"Dot '{self.name}': the reduced axes must have the same size. "
                             f"Received: size {shape1[a1]} at axis {a1} of {shape1} and "
                             f"size {shape2[a2]} at axis {a2} of {shape2}")
        batch_sizes = {shape1[0], shape2[0]} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(f"Dot '{self.name}': cannot multiply inputs with different "
                             f"batch sizes. Received shapes {shape1} and {shape2}")
        self.built = True

    def call(self, inputs):
        # Not Merge.call: the inputs keep their ranks (Keras's batch_dot, no expansion).
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"Dot '{self.name}': should be called on a list of 2 inputs. "
                             f"Received: inputs={inputs!r}")
        return self._merge_function(list(inputs))

    def _merge_function(self, inputs):
        x, y = inputs
        a1, a2 = self._reduced_axes(*self._pair([x.shape, y.shape]))
        if self.normalize:
            x = ops.normalize(x, axis=a1)
            y = ops.normalize(y, axis=a2)
        output = ops.einsum(self._equation(len(x.shape), len(y.shape), a1, a2), x, y)
        if len(output.shape) == 1:
            output = ops.expand_dims(output, -1)  # as Keras: at least (batch, 1)
        return output

    @staticmethod
    def _equation(ndim1, ndim2, a1, a2):
        """'ab...,ac...->a...': the batch letter shared, the reduced axes one letter."""
        letters = iter(string.ascii_lowercase[2:])
        x = ["a"] + [next(letters) for _ in range(ndim1 - 1)]
        y = ["a"] + [next(letters) for _ in range(ndim2 - 1)]
        x[a1] = y[a2] = "b"
        out = [c for c in x if c != "b"] + [c for c in y[1:] if c != "b"]
        return f"{''.join(x)},{''.join(y)}->{''.join(out)}"

    def compute_output_shape(self, input_shape):
        shape1, shape2 = self._pair(input_shape)
        a1, a2 = self._reduced_axes(shape1, shape2)
        batch = shape1[0] if shape1[0] is not None else shape2[0]
        output = [batch] + [d for i, d in enumerate(shape1) if i not in (0, a1)] + \
            [d for i, d in enumerate(shape2) if i not in (0, a2)]
        return tuple(output) if len(output) > 1 else (batch, 1)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def dot(inputs, axes=-1, **kwargs):
    """`Dot(axes=axes, **kwargs)(inputs)`."""
    return Dot(axes=axes, **kwargs)(inputs)
