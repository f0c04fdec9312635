"""`Concatenate` and its functional form `concatenate`."""
from graphkit import ops
from graphkit.layers.merging.base_merge import Merge


class Concatenate(Merge):
    """Concatenates a list of inputs along `axis`; the other axes must match.

    The output mask, when any input has one, is the input masks (all True for unmasked
    inputs) concatenated along `axis`, reduced with OR over the last axis (Keras's rule).
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Concatenate: `axis` must be an int, received {axis!r}")
        self.axis = axis
        self.supports_masking = True

    def _error(self, input_shape):
        return ValueError(
            f"Concatenate '{self.name}': a Concatenate layer requires inputs with matching "
            f"shapes except for the concatenation axis (axis={self.axis}). "
            f"Received: input_shape={[tuple(s) for s in input_shape]}")

    def build(self, input_shape):
        self._check_list(input_shape)
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            raise self._error(input_shape)
        rank = ranks.pop()
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"Concatenate '{self.name}': axis {self.axis} is out of range for inputs of "
                f"rank {rank}")
        axis = self.axis % rank
        for i in range(rank):
            if i == axis:
                continue
            sizes = {s[i] for s in input_shape} - {None}
            if len(sizes) > 1:
                raise self._error(input_shape)
        self.built = True

    def _merge_function(self, inputs):
        return ops.concatenate(inputs, axis=self.axis)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"Concatenate '{self.name}': should be called on a list of inputs. "
                f"Received: inputs={inputs!r}")
        return self._merge_function(list(inputs))

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        output = list(input_shape[0])
        for shape in input_shape[1:]:
            if output[self.axis] is None or shape[self.axis] is None:
                output[self.axis] = None
                break
            output[self.axis] += shape[self.axis]
        # Other axes: take any known size (they were checked equal at build).
        for i in range(len(output)):
            if i != self.axis % len(output) and output[i] is None:
                known = [s[i] for s in input_shape if s[i] is not None]
                output[i] = known[0] if known else None
        return tuple(output)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or not isinstance(inputs, (list, tuple)) or \
                len(mask) != len(inputs):
            raise ValueError(
                f"Concatenate '{self.name}': `inputs` and `mask` should be lists of the same "
                f"length. Received: mask={mask!r}")
        if all(m is None for m in mask):
            return None
        masks = []
        for x, m in zip(inputs, mask):
            if m is None:
                masks.append(ops.ones_like(x, dtype="bool"))
            elif len(m.shape) < len(x.shape):
                # AND with all-True broadcasts without needing static sizes.
                masks.append(ops.logical_and(ops.expand_dims(m, -1),
                                             ops.ones_like(x, dtype="bool")))
            else:
                masks.append(m)
        return ops.any(ops.concatenate(masks, axis=self.axis), axis=-1, keepdims=False)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def concatenate(inputs, axis=-1, **kwargs):
    """`Concatenate(axis=axis, **kwargs)(inputs)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)
