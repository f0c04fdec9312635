"""`gk.Variable`: mutable state, usable wherever a tensor is.

Reads go through `.value`, which a state scope may intercept (stateless calls, tracing) and
which tells active GradientTapes what was read. Assigns swap in a new immutable Tensor.
"""
import numpy as np

from graphkit import dtypes, naming
from graphkit.core import scopes
from graphkit.core.operators import OperatorMixin
from graphkit.core.tensor import Tensor
from graphkit.ops import primitive
from graphkit.ops.primitive import ops_namespace as _o

# A state version: how many times a variable's value was replaced (every assign) or updated
# in place (each run of a compiled step that writes donated buffers adds one). Compiled code
# that keeps something derived from variables' arrays (their addresses, a packed copy of a
# weight) reads it to know, in O(1), that none of them changed since.
ASSIGNMENTS = [0]


class Variable(OperatorMixin):
    def __init__(self, initializer, shape=None, dtype=None, trainable=True, name=None,
                 constraint=None, autocast=True, aggregation="none"):
        self.name = name or naming.uniquify("variable")
        if not isinstance(self.name, str) or "/" in self.name:
            raise ValueError(f"Variable: `name` must be a string without '/', received {name!r}")
        scope = naming.current_path()
        self.path = naming.join_path(scope, self.name)
        self.trainable = bool(trainable)
        self.constraint = constraint
        self.autocast = autocast
        self.aggregation = aggregation
        self._value = self._initial_value(initializer, shape, dtype)

    def _initial_value(self, initializer, shape, dtype):
        if isinstance(initializer, str):  # as Keras: Variable("zeros", shape=(3,))
            from graphkit import initializers
            initializer = initializers.get(initializer)
        if callable(initializer) and not hasattr(initializer, "_bind_priority"):
            if shape is None:
                raise ValueError(
                    f"Variable '{self.name}': an initializer needs a `shape`, received shape=None")
            shape = tuple(int(d) for d in shape)
            dtype = dtypes.standardize_dtype(dtype)
            # Initializers run eagerly, even inside a trace or a stateless call: a
            # pass-through state scope hides those scopes (e.g. a seed generator's state).
            with scopes.StateScope():
                value = initializer(shape, dtype=dtype)
            return Tensor(np.array(np.asarray(value), dtype=dtype))
        if hasattr(initializer, "_value") and isinstance(initializer, Variable):
            initializer = initializer.numpy()
        if hasattr(type(initializer), "_bind_priority") and type(initializer) is not Tensor:
            raise TypeError(
                f"Variable '{self.name}': the initial value is a symbolic "
                f"{type(initializer).__name__} (shape {tuple(initializer.shape)}, dtype "
                f"{initializer.dtype}), which has no data yet. Create variables outside "
                "gk.jit and outside Functional model construction (for example in a layer's "
                "build()), then assign() computed values to them.")
        array = np.asarray(initializer)
        if dtype is None:
            dtype = _o().convert_to_tensor(initializer).dtype if not isinstance(
                initializer, np.ndarray) else array.dtype.name
        dtype = dtypes.standardize_dtype(dtype)
        array = np.array(array, dtype=dtype)  # a private copy
        if shape is not None and tuple(shape) != array.shape:
            raise ValueError(
                f"Variable '{self.name}': initial value has shape {array.shape}, "
                f"expected shape {tuple(shape)}")
        return Tensor(array)

    # -- reads ------------------------------------------------------------------------------
    @property
    def value(self):
        # The scope stacks are read directly, not through their helpers: an eager training
        # step reads its variables dozens of times.
        local = _SCOPES
        state = local.state
        if state:
            scope = state[-1]
            # StatelessScope.read, inlined: a training step reads its variables dozens of times
            v = scope._values.get(id(self)) if type(scope) is _STATELESS else scope.read(self)
        else:
            v = None
        if v is None:
            v = self._value
        # Tapes see the stored value, before any autocast: the cast is then recorded, so a
        # gradient has the variable's dtype (float32 under "mixed_float16"), as in Keras.
        tapes = _ACTIVE_TAPES
        if tapes:
            for tape in tapes:
                tape._on_variable_read(self, v)
        if self.autocast:
            cast_to = local.autocast[-1] if local.autocast else None
            if cast_to is not None and cast_to != self.dtype and dtypes.is_float(self.dtype):
                v = _o().cast(v, cast_to)
        return v

    def numpy(self):
        """A snapshot of the value. A copy, because training steps may update a variable's
        array in place (donated state): a snapshot taken before `fit` must not change."""
        return np.array(self.value, copy=True)

    def __array__(self, dtype=None, copy=None):
        # A copy unless the caller asks for none, as numpy(): `w = np.asarray(v); w *= 0.5`
        # must not change the variable behind assign()'s back (Keras's arrays never alias it).
        a = np.asarray(self.value)
        if copy is False:
            return a if dtype is None else a.astype(dtype, copy=False)
        return np.array(a, dtype=dtype, copy=True)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return self._value.__array_ufunc__(ufunc, method, *[
            i.value if isinstance(i, Variable) else i for i in inputs], **kwargs)

    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype

    @property
    def ndim(self):
        return len(self._value.shape)

    @property
    def size(self):
        return int(np.prod(self._value.shape))

    def __len__(self):
        return len(self._value)  # a 0-d variable raises TypeError, as a 0-d tensor does

    def __bool__(self):
        return bool(self.value)

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __format__(self, spec):
        return format(self.value, spec) if spec else str(self)

    # -- writes -----------------------------------------------------------------------------
    def assign(self, value):
        current = self._value._array
        # A Tensor of the variable's dtype and shape (the common eager case) needs no check.
        if not (type(value) is Tensor and value._array.dtype == current.dtype
                and value._array.shape == current.shape):
            value = self._checked_new_value(value)
        state = _SCOPES.state  # current_state_scope, inlined: eager optimizers assign often
        scope = state[-1] if state else None
        if scope is not None and scope.assign(self, value):
            return value
        if not isinstance(value, Tensor):
            raise TypeError(
                f"Variable '{self.path}': cannot assign a symbolic value outside a trace "
                f"(received {type(value).__name__})")
        self._replace_value(value)
        return value

    def _replace_value(self, value):
        """Swap in a new value Tensor (no checks): every replacement goes through here."""
        self._value = value
        ASSIGNMENTS[0] += 1

    def _checked_new_value(self, value):
        value = _o().convert_to_tensor(value, dtype=self.dtype)
        if tuple(value.shape) != tuple(self.shape) and None not in value.shape:
            raise ValueError(
                f"Variable '{self.path}': cannot assign a value of shape {tuple(value.shape)} "
                f"to a variable of shape {tuple(self.shape)}")
        return value

    def assign_add(self, delta):
        return self.assign(_o().add(self.value, delta))

    def assign_sub(self, delta):
        return self.assign(_o().subtract(self.value, delta))

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
                f"value={np.array2string(self._value.numpy(), threshold=20, separator=', ')}>")


_SCOPES = scopes._local
_STATELESS = scopes.StatelessScope
_ACTIVE_TAPES = primitive.ACTIVE_TAPES


def _register():
    from graphkit.ops import convert
    convert._VARIABLE[0] = Variable


_register()
