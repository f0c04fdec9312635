"""`gk.KerasTensor`: a symbolic value of the functional API (a shape and a dtype, no data).

Ops called on KerasTensors infer their result with the primitive's shape rule (no data is
made up) and, at the top level, record an op node, so that `ops.add(a, b)` becomes part of a
functional model's graph. A composite op (`ops.softmax`, written with exp, sum, ...) is one
node too: gk.ops hands its public calls on KerasTensors to `symbolic_op_call`. While a layer
runs its `call` on KerasTensors to find its output spec, node recording is off and variable
assigns are ignored (`symbolic_call_scope`): only the layer's own call becomes a node.
"""
import contextlib
import threading

from graphkit import dtypes, naming
from graphkit.core import scopes
from graphkit.core.operators import OperatorMixin
from graphkit.ops.primitive import infer_avals

_local = threading.local()


class KerasTensor(OperatorMixin):
    _bind_priority = 1
    _records_gradients = False

    def __init__(self, shape, dtype="float32", sparse=False, name=None, origin=None):
        self._shape = _standardize_shape(shape)
        self._dtype = dtypes.standardize_dtype(dtype)
        self.sparse = bool(sparse)
        self.name = name or naming.auto_name("KerasTensor")
        self._keras_mask = None
        self._keras_history = None
        # Where the tensor comes from, for error messages ("made by layer 'dense'").
        self._origin = origin or _default_origin()

    @property
    def shape(self):
        return self._shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def ndim(self):
        return len(self._shape)

    # -- bind: the symbolic mode of every op -------------------------------------------------
    @classmethod
    def _bind(cls, prim, args, attrs):
        avals = infer_avals(prim, args, attrs)
        where = naming.current_path()
        origin = f"made by op '{prim.name}'" + (f" in '{where}'" if where else "")
        outs = tuple(KerasTensor(a.shape, a.dtype, origin=origin) for a in avals)
        if is_recording_nodes():
            from graphkit.models.operation import PrimitiveOperation
            PrimitiveOperation.record(prim, args, attrs, outs)
        return outs if prim.n_outputs > 1 else outs[0]

    # -- data access is an error --------------------------------------------------------------
    def _no_data(self, what):
        return TypeError(
            f"KerasTensor '{self.name}' (shape={self.shape}, dtype={self.dtype}), "
            f"{self._origin}, is symbolic: it holds no data, so {what} is not possible. "
            "KerasTensors only describe the graph of a functional model. To compute values, "
            "build a model with `model = gk.Model(inputs, outputs)` and call it on data: "
            "`model(x)` or `model.predict(x)`.")

    def numpy(self):
        raise self._no_data("converting it to a NumPy array (.numpy())")

    def __array__(self, dtype=None, copy=None):
        raise self._no_data("converting it to a NumPy array")

    def __bool__(self):
        raise self._no_data("using it as a Python bool (in `if`, `and`, `or`, `not`)")

    def __iter__(self):
        raise self._no_data("iterating over it")

    def __len__(self):
        raise self._no_data("taking its len()")

    def __float__(self):
        raise self._no_data("converting it to a Python float")

    def __int__(self):
        raise self._no_data("converting it to a Python int")

    def __index__(self):
        raise self._no_data("using it as an index")

    def __contains__(self, item):
        raise self._no_data("testing membership (`in`)")

    def __format__(self, spec):
        if spec:
            raise self._no_data(f"formatting its value (format spec {spec!r})")
        return str(self)

    def __repr__(self):
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse={self.sparse}, "
                f"name={self.name}>")

    __str__ = __repr__


def _standardize_shape(shape):
    if shape is None:
        raise ValueError("KerasTensor: `shape` cannot be None (use None for unknown dims)")
    if isinstance(shape, int):
        shape = (shape,)
    out = []
    for d in shape:
        if d is None:
            out.append(None)
        elif isinstance(d, bool) or int(d) != d or int(d) < 0:
            raise ValueError(f"KerasTensor: invalid dimension {d!r} in shape {tuple(shape)}")
        else:
            out.append(int(d))
    return tuple(out)


def _default_origin():
    where = naming.current_path()
    return f"made inside '{where}'" if where else "made by the user"


def is_keras_tensor(x):
    return isinstance(x, KerasTensor)


def any_symbolic_tensors(args=(), kwargs=None):
    from graphkit import tree
    return any(isinstance(x, KerasTensor) for x in tree.flatten((args, kwargs or {})))


# -- symbolic calls ----------------------------------------------------------------------------

def symbolic_op_call(op_name, fn, args, kwargs):
    """A public composite op called on KerasTensors (`fn` is its implementation).

    At the top level of a functional graph the call becomes one node, named after the op;
    elsewhere (a layer's call, or inside another op's node) it only infers its result.
    """
    if not is_recording_nodes():
        return fn(*args, **kwargs)
    # Lazy: the node classes live in graphkit.models, above the ops and this module.
    from graphkit.models.op_call import OpCallOperation
    return OpCallOperation.record(op_name, args, kwargs)


def is_recording_nodes():
    return getattr(_local, "silenced", 0) == 0


@contextlib.contextmanager
def no_node_recording():
    """Ops on KerasTensors inside do not become graph nodes (a layer's internals, masks)."""
    _local.silenced = getattr(_local, "silenced", 0) + 1
    try:
        yield
    finally:
        _local.silenced -= 1


class SymbolicStateScope(scopes.StateScope):
    """Variable assigns made while finding a layer's output spec are dropped: a symbolic call
    must not touch the layer's state (a running sum, BatchNormalization statistics)."""

    def assign(self, variable, value):
        return True


@contextlib.contextmanager
def symbolic_call_scope():
    with no_node_recording(), SymbolicStateScope():
        yield
