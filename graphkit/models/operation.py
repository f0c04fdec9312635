"""`PrimitiveOperation`: a `gk.ops` primitive called on KerasTensors at the top level of a
functional graph (`ops.add(a, b)` between layers). It is the graph node's operation: it
re-binds the primitive on real values when the model runs, and it serializes to
`{primitive, attrs}` in the model config.

`Operation` is what graph nodes need from an op that is not a layer (composite ops have
`OpCallOperation`, in op_call.py): node lists, no weights, and the `output` of its call.
"""
from graphkit import naming
from graphkit.core import keras_tensor as kt
from graphkit.ops.primitive import bind, get_primitive


class Operation:
    """A functional-graph op that is not a layer; `op_name` gives its summary type."""

    def __init__(self, op_name, name=None):
        self.op_name = op_name
        self.name = name or naming.auto_name(op_name)
        self._inbound_nodes = []
        self._outbound_nodes = []

    @property
    def weights(self):
        return []

    def count_params(self):
        return 0

    @property
    def output(self):
        outs = self._inbound_nodes[0].output_tensors
        return outs[0] if len(outs) == 1 else outs


class PrimitiveOperation(Operation):
    def __init__(self, primitive, attrs=None, name=None):
        self.primitive = get_primitive(primitive) if isinstance(primitive, str) else primitive
        self.attrs = dict(attrs or {})
        super().__init__(self.primitive.name, name)

    @classmethod
    def record(cls, prim, args, attrs, outputs):
        """Called by KerasTensor._bind: a new operation with one node for this call."""
        from graphkit.models.node import Node
        op = cls(prim, attrs)
        Node(op, args, {}, outputs)

    def __call__(self, *args):
        args = [_as_value(a) for a in args]
        if kt.any_symbolic_tensors(args) and kt.is_recording_nodes():
            from graphkit.models.node import Node
            with kt.no_node_recording():
                outputs = bind(self.primitive, *args, **self.attrs)
            Node(self, args, {}, outputs)
            return outputs
        return bind(self.primitive, *args, **self.attrs)

    def get_config(self):
        return {"name": self.name, "primitive": self.primitive.name,
                "attrs": {k: _jsonable(v) for k, v in self.attrs.items()}}

    @classmethod
    def from_config(cls, config):
        attrs = {k: _hashable(v) for k, v in config.get("attrs", {}).items()}
        return cls(config["primitive"], attrs, name=config.get("name"))

    def __repr__(self):
        return f"<PrimitiveOperation {self.primitive.name} name={self.name}>"


def _as_value(x):
    if hasattr(type(x), "_bind_priority"):
        return x
    from graphkit.ops import convert_to_tensor
    return convert_to_tensor(x)


def _jsonable(value):
    """Attrs are hashable Python values (tuples of them): JSON gives lists back."""
    if isinstance(value, tuple):
        return {"__tuple__": [_jsonable(v) for v in value]}
    return value


def _hashable(value):
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_hashable(v) for v in value["__tuple__"])
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value
