"""`Merge`: the base of the elementwise merge layers (Add, Subtract, Multiply, Average,
Maximum, Minimum).

As in Keras: the inputs' non-batch shapes must broadcast together; inputs of lower rank are
expanded at axis 1; the output mask is the logical OR of the input masks when every input
has one, and None otherwise.
"""
from graphkit import ops
from graphkit.layers.layer import Layer


def _shape_or_none(shape):
    return None if shape is None else tuple(shape)


def fold(op, inputs):
    """op(...op(op(x0, x1), x2)..., xn): a binary op folded over the merged inputs."""
    output = inputs[0]
    for x in inputs[1:]:
        output = op(output, x)
    return output


class Merge(Layer):
    """Subclasses define `_merge_function(inputs)` on a list of same-rank tensors."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _merge_function(self, inputs):
        raise TypeError(f"{type(self).__name__} must define _merge_function")

    def _elementwise_shape(self, shape1, shape2):
        """The broadcast of two shapes (aligned on the right), None when unknown."""
        if shape1 is None or shape2 is None:
            return None
        if len(shape1) < len(shape2):
            shape1, shape2 = shape2, shape1
        if not shape2:
            return tuple(shape1)
        out = list(shape1[:len(shape1) - len(shape2)])
        for i, j in zip(shape1[len(shape1) - len(shape2):], shape2):
            if i is None or j is None:
                out.append(None)
            elif i == 1 or j == 1:
                out.append(j if i == 1 else i)
            elif i != j:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': inputs have incompatible shapes. "
                    f"Received shapes {tuple(shape1)} and {tuple(shape2)}")
            else:
                out.append(i)
        return tuple(out)

    def _check_list(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not isinstance(
                input_shape[0], (list, tuple)):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': a merge layer should be called on a "
                f"list of at least 1 input. Received: input_shape={input_shape}")

    def _output_shape_without_batch(self, input_shape):
        shapes = [_shape_or_none(s) for s in input_shape]
        out = None if shapes[0] is None else shapes[0][1:]
        for s in shapes[1:]:
            out = self._elementwise_shape(out, None if s is None else s[1:])
        return out

    def build(self, input_shape):
        self._check_list(input_shape)
        batch_sizes = {s[0] for s in input_shape if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': cannot merge tensors with different "
                f"batch sizes. Received tensors with shapes {[tuple(s) for s in input_shape]}")
        self._output_shape_without_batch(input_shape)  # validates broadcasting
        self.built = True

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': a merge layer should be called on a "
                f"list of inputs. Received: inputs={inputs!r} (not a list of tensors)")
        ndims = [len(x.shape) for x in inputs]
        if len(set(ndims)) > 1:
            # Lower-rank inputs get new axes after the batch axis until the ranks agree.
            target = max(ndims)
            inputs = [self._expand_to(x, target) for x in inputs]
        return self._merge_function(list(inputs))

    @staticmethod
    def _expand_to(x, ndim):
        for _ in range(ndim - len(x.shape)):
            x = ops.expand_dims(x, 1)
        return x

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        out = self._output_shape_without_batch(input_shape)
        batch_sizes = {s[0] for s in input_shape if s is not None} - {None}
        batch = batch_sizes.pop() if len(batch_sizes) == 1 else None
        return None if out is None else (batch, *out)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or not isinstance(inputs, (list, tuple)) or \
                len(mask) != len(inputs):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `inputs` and `mask` should be lists of "
                f"the same length. Received: inputs={inputs!r}, mask={mask!r}")
        if any(m is None for m in mask):
            return None
        output_mask = mask[0]
        for m in mask[1:]:
            output_mask = ops.logical_or(output_mask, m)
        return output_mask
