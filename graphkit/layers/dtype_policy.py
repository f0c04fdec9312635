"""`gk.DTypePolicy`: which dtype a layer computes in and which dtype its variables hold.

"float32" or "float64" use one dtype for both. "mixed_float16" computes in float16 with
float32 variables: the layer casts its float inputs to float16 and reads its float variables
as float16 (through `core.scopes.autocast`), while the optimizer updates float32 storage.
"""
from graphkit import config, dtypes

_MIXED = {"mixed_float16": ("float16", "float32")}
_global_policy = None


class DTypePolicy:
    def __init__(self, name=None):
        if name is None:
            name = config.floatx()
        if isinstance(name, DTypePolicy):
            name = name.name
        if not isinstance(name, str):
            raise TypeError(f"DTypePolicy: `name` must be a string such as 'float32' or "
                            f"'mixed_float16', received {name!r} of type {type(name).__name__}")
        self._name = name
        self._compute_dtype, self._variable_dtype = _parse(name)

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        return self._compute_dtype

    @property
    def variable_dtype(self):
        return self._variable_dtype

    @property
    def quantization_mode(self):
        return None

    def convert_input(self, x, autocast, dtype):
        """`x` as a graphkit value, its floats cast to `dtype` when `autocast` is on.

        Values (Tensor, KerasTensor, Tracer) and array-likes are handled; anything else
        (Python scalars, strings, None) is returned unchanged, as in Keras.
        """
        from graphkit.core.variable import Variable
        from graphkit.ops import cast, convert_to_tensor
        if isinstance(x, Variable):
            x = x.value
        elif not hasattr(type(x), "_bind_priority"):
            if not hasattr(x, "__array__"):
                return x
            x = convert_to_tensor(x)
        if autocast and dtypes.is_float(x.dtype) and x.dtype != dtype:
            x = cast(x, dtype)
        return x

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f'<DTypePolicy "{self.name}">'


def _parse(name):
    if name in _MIXED:
        return _MIXED[name]
    if name.startswith("mixed_"):
        raise ValueError(f"DTypePolicy: unsupported mixed policy {name!r}; graphkit supports "
                         f"{', '.join(sorted(_MIXED))}")
    try:
        dtype = dtypes.standardize_dtype(name)
    except ValueError:
        raise ValueError(f"DTypePolicy: cannot interpret {name!r} as a dtype policy. Expected a "
                         f"dtype name such as 'float32' or one of {sorted(_MIXED)}") from None
    return dtype, dtype


def set_dtype_policy(policy):
    """Set the policy that layers created without `dtype=` use (None: floatx)."""
    global _global_policy
    _global_policy = None if policy is None else get(policy)


def dtype_policy():
    return _global_policy if _global_policy is not None else DTypePolicy(config.floatx())


def get(identifier):
    """A DTypePolicy from None (the global policy), a name, a policy or its config dict."""
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        cfg = identifier.get("config", identifier)
        return DTypePolicy(cfg.get("name"))
    if not isinstance(identifier, str):
        identifier = dtypes.standardize_dtype(identifier)
    return DTypePolicy(identifier)


def serialize(policy):
    """The config form of a layer's policy: its name, as in the seed guide's configs."""
    return policy.name
