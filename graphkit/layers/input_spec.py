"""`gk.layers.InputSpec`: what a layer accepts (rank, dtype, shape, fixed axes), and the check
`Layer.__call__` runs on its first argument, with messages that name the layer, the input
index, what was expected and what was received.
"""
from graphkit import dtypes, tree


class InputSpec:
    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = dtypes.standardize_dtype(dtype) if dtype is not None else None
        if shape is not None:
            self.shape = tuple(None if d is None else int(d) for d in shape)
            self.ndim = len(self.shape)
        else:
            self.shape = None
            self.ndim = ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.name = name
        self.optional = optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            axes = axes or {}
            self.axes = {int(k): axes[k] for k in axes}
        except (ValueError, TypeError):
            raise TypeError(f"InputSpec: `axes` must be a dict with integer keys, "
                            f"received axes={axes!r}") from None
        rank = self.ndim if self.ndim is not None else self.max_ndim
        if self.axes and rank is not None and max(self.axes) > rank - 1:
            raise ValueError(f"InputSpec: axis {max(self.axes)} is greater than the maximum "
                             f"allowed value {rank - 1}")

    def __repr__(self):
        parts = [f"{k}={v}" for k, v in (
            ("dtype", self.dtype), ("shape", self.shape), ("ndim", self.ndim),
            ("max_ndim", self.max_ndim), ("min_ndim", self.min_ndim), ("axes", self.axes))
            if v]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes,
                "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def assert_input_compatibility(input_spec, inputs, layer_name):
    """Raise a ValueError when `inputs` do not satisfy `input_spec` (one spec or a list)."""
    if not input_spec:
        return
    if isinstance(input_spec, InputSpec) and not tree.is_nested(inputs):
        if not (inputs is None and input_spec.optional):
            _check(input_spec, inputs, 0, layer_name)
        return
    specs = tree.flatten(input_spec)
    if isinstance(inputs, dict) and all(s is not None and s.name for s in specs):
        missing = [s.name for s in specs if s.name not in inputs]
        if missing:
            raise ValueError(f"Layer '{layer_name}': missing data for input '{missing[0]}'. "
                             f"Received a dict with keys {sorted(inputs)}, expected the keys "
                             f"{[s.name for s in specs]}")
        inputs = [inputs[s.name] for s in specs]
    flat = tree.flatten(inputs)
    if len(flat) != len(specs):
        raise ValueError(f"Layer '{layer_name}' expects {len(specs)} input(s), but it received "
                         f"{len(flat)} input tensors. Inputs received: "
                         f"{[_describe(x) for x in flat]}")
    for index, (x, spec) in enumerate(zip(flat, specs)):
        if spec is None or (x is None and spec.optional):
            continue
        _check(spec, x, index, layer_name)


def _describe(x):
    shape = getattr(x, "shape", None)
    return f"{type(x).__name__}(shape={tuple(shape)})" if shape is not None else repr(x)


def _check(spec, x, index, layer_name):
    if not hasattr(x, "shape"):
        raise ValueError(f"Inputs to a layer should be tensors. Got {x!r} (of type "
                         f"{type(x).__name__}) as input {index} of layer '{layer_name}'.")
    shape = tuple(x.shape)
    ndim = len(shape)
    head = f"Input {index} of layer '{layer_name}' is incompatible with the layer: "
    if spec.name:
        head = f"Input {index} (named '{spec.name}') of layer '{layer_name}' is incompatible " \
               f"with the layer: "
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
        raise ValueError(f"{head}expected ndim={spec.ndim}, found ndim={ndim}. "
                         f"Full shape received: {shape}")
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        raise ValueError(f"{head}expected max_ndim={spec.max_ndim}, found ndim={ndim}. "
                         f"Full shape received: {shape}")
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        raise ValueError(f"{head}expected min_ndim={spec.min_ndim}, found ndim={ndim}. "
                         f"Full shape received: {shape}")
    if spec.dtype is not None and dtypes.standardize_dtype(x.dtype) != spec.dtype:
        raise ValueError(f"{head}expected dtype={spec.dtype}, found dtype={x.dtype}")
    for axis, value in spec.axes.items():
        if value is None:
            continue
        if not -ndim <= axis < ndim:
            raise ValueError(f"{head}axis {axis} is out of bounds for an input with "
                             f"ndim={ndim}. Full shape received: {shape}")
        if shape[axis] not in (value, None):
            raise ValueError(f"{head}expected axis {axis} of input shape to have value "
                             f"{value}, but received input with shape {shape}")
    if spec.shape is not None:
        _check_shape(spec, shape, head)


def _check_shape(spec, shape, head):
    spec_shape = spec.shape
    if spec.allow_last_axis_squeeze:
        # Rank N+1 with a trailing 1, or rank N-1 against a spec ending in 1, are accepted.
        if len(shape) == len(spec_shape) + 1 and shape[-1] == 1:
            shape = shape[:-1]
        elif len(spec_shape) == len(shape) + 1 and spec_shape[-1] == 1:
            spec_shape = spec_shape[:-1]
    for want, got in zip(spec_shape, shape):
        if want is not None and got is not None and want != got:
            raise ValueError(f"{head}expected shape={spec.shape}, found shape={shape}")
