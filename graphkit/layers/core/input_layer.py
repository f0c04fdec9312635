"""`gk.Input` and `InputLayer`: the entry points of a functional graph.

`gk.Input(shape=(3,))` makes an InputLayer whose single node has no inputs and one output,
a KerasTensor of shape `(batch_size, *shape)`; that tensor is what `Input` returns.
"""
from graphkit import dtypes
from graphkit.core.keras_tensor import KerasTensor
from graphkit.layers.layer import Layer


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
                 batch_shape=None, input_tensor=None, optional=False, name=None, **kwargs):
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name, **kwargs)
        if sparse:
            raise ValueError(f"InputLayer '{self.name}': sparse inputs are not supported by "
                             "graphkit (received sparse=True); pass dense arrays")
        if ragged:
            raise ValueError(f"InputLayer '{self.name}': ragged inputs are not supported by "
                             "graphkit (received ragged=True); pass dense (padded) arrays")
        batch_shape = _batch_shape(self.name, shape, batch_size, batch_shape, input_tensor)
        self._batch_shape = batch_shape
        self._input_dtype = dtypes.standardize_dtype(
            dtype if dtype is not None else getattr(input_tensor, "dtype", None))
        self.sparse = False
        self.optional = bool(optional)
        if input_tensor is None:
            input_tensor = KerasTensor(batch_shape, self._input_dtype, name=self.name)
        elif not isinstance(input_tensor, KerasTensor):
            raise ValueError(f"InputLayer '{self.name}': `input_tensor` must be a KerasTensor, "
                             f"received {input_tensor!r} of type {type(input_tensor).__name__}")
        from graphkit.models.node import Node
        Node(self, (), {}, input_tensor)
        self.built = True

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def dtype(self):
        return self._input_dtype

    def call(self):
        return None

    def get_config(self):
        return {"batch_shape": list(self._batch_shape), "dtype": self._input_dtype,
                "sparse": False, "ragged": False, "optional": self.optional, "name": self.name}


def _batch_shape(name, shape, batch_size, batch_shape, input_tensor):
    if shape is not None and batch_shape is not None:
        raise ValueError(f"InputLayer '{name}': pass `shape` or `batch_shape`, not both "
                         f"(received shape={shape}, batch_shape={batch_shape})")
    if shape is not None:
        if isinstance(shape, int):
            shape = (shape,)
        try:
            shape = tuple(shape)
        except TypeError:
            raise ValueError(f"InputLayer '{name}': `shape` must be a tuple of dimensions "
                             f"(without the batch size), received shape={shape!r}") from None
        return _check_dims(name, (batch_size,) + shape)
    if batch_shape is not None:
        return _check_dims(name, tuple(batch_shape))
    if input_tensor is not None:
        return tuple(input_tensor.shape)
    raise ValueError(f"InputLayer '{name}': a `shape` (or `batch_shape`) is required, such "
                     "as gk.Input(shape=(784,))")


def _check_dims(name, shape):
    shape = tuple(int(d) if hasattr(d, "__index__") and not isinstance(d, bool) else d
                  for d in shape)
    for d in shape:
        if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 0):
            raise ValueError(f"InputLayer '{name}': dimensions must be non-negative ints or "
                             f"None, received shape {shape}")
    return tuple(shape)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
          name=None, tensor=None, optional=False):
    """A symbolic input of a functional model: a KerasTensor of shape (batch_size, *shape).
    The arguments are Keras's, in its order (`ragged=True`, like `sparse=True`, is refused)."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       ragged=ragged, batch_shape=batch_shape, name=name, input_tensor=tensor,
                       optional=optional)
    return layer.output
