"""`OpCallOperation`: a public composite op (`ops.mean`, `ops.softmax`, `ops.split`, ...)
called on KerasTensors at the top level of a functional graph, as one node (Keras's `Mean`,
`Softmax`, ... operations).

The call's arguments are kept as a template: its KerasTensors, in order, become the node's
inputs, and each is replaced in the template by an `ArgumentSlot`; every other argument
(axis, a subscripts string, constants) stays in the operation and in its config. Running the
node calls the public op on the real values, so eager runs and compiled traces see the same
primitives as a direct call. The output spec comes from the composite itself, run with node
recording off so that its inner ops make no nodes.
"""
from graphkit import naming, tree
from graphkit.core import keras_tensor as kt
from graphkit.models.operation import Operation
from graphkit.models.serialization import (ArgumentSlot, deserialize_argument,
                                           serialize_argument)


class OpCallOperation(Operation):
    def __init__(self, op, args=(), kwargs=None, name=None):
        self.fn = _public_op(op)
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        super().__init__(op, name)
        self._n_inputs = len([x for x in tree.flatten((self.args, self.kwargs))
                              if isinstance(x, ArgumentSlot)])

    @classmethod
    def record(cls, op, args, kwargs):
        """Called by keras_tensor.symbolic_op_call: a new operation with one node."""
        inputs = []
        args = _to_template(tuple(args), inputs)
        kwargs = _to_template(dict(kwargs), inputs)
        return cls(op, args, kwargs)(*inputs)

    def __call__(self, *inputs):
        if len(inputs) != self._n_inputs:
            raise TypeError(f"Op node '{self.name}' (gk.ops.{self.op_name}) takes "
                            f"{self._n_inputs} tensor input(s), received {len(inputs)}")
        args = _fill(self.args, inputs)
        kwargs = _fill(self.kwargs, inputs)
        if any(isinstance(x, kt.KerasTensor) for x in inputs) and kt.is_recording_nodes():
            return self._record_node(inputs, args, kwargs)
        # Under the node's name, as a layer's call: the IR reads `functional/mean/sum`.
        with naming.name_scope(self.name):
            return self.fn(*args, **kwargs)

    def _record_node(self, inputs, args, kwargs):
        from graphkit.models.node import Node
        with kt.no_node_recording():
            outputs = self.fn(*args, **kwargs)
        outputs = _fresh_outputs(outputs, inputs, self)
        Node(self, inputs, {}, outputs)
        return outputs

    def get_config(self):
        try:
            return {"name": self.name, "op": self.op_name,
                    "args": serialize_argument(list(self.args), _no_tensor_ref),
                    "kwargs": serialize_argument(self.kwargs, _no_tensor_ref)}
        except TypeError as e:
            raise TypeError(f"Op node '{self.name}' (gk.ops.{self.op_name}) cannot be "
                            f"serialized: {e}") from None

    @classmethod
    def from_config(cls, config):
        args = deserialize_argument(config.get("args", []), _no_tensor_ref)
        kwargs = deserialize_argument(config.get("kwargs", {}), _no_tensor_ref)
        return cls(config["op"], args, kwargs, name=config.get("name"))

    def __repr__(self):
        return f"<OpCallOperation {self.op_name} name={self.name}>"


def _public_op(op):
    from graphkit.ops.symbolic_calls import NODE_OPS
    if op not in NODE_OPS:
        from graphkit.errors import unknown_identifier
        raise unknown_identifier("composite op", op, NODE_OPS)
    return NODE_OPS[op]


def _to_template(value, inputs):
    """`value` with each KerasTensor appended to `inputs` and replaced by its slot."""
    if isinstance(value, kt.KerasTensor):
        inputs.append(value)
        return ArgumentSlot(len(inputs) - 1)
    # Plain lists, tuples and dicts (a namedtuple becomes a tuple): what configs hold.
    if isinstance(value, list):
        return [_to_template(v, inputs) for v in value]
    if isinstance(value, tuple):
        return tuple(_to_template(v, inputs) for v in value)
    if isinstance(value, dict):
        return {k: _to_template(v, inputs) for k, v in value.items()}
    return value


def _fill(value, inputs):
    """The template `value` with each slot replaced by its input."""
    if type(value) is ArgumentSlot:
        return inputs[value.index]
    if type(value) is list or type(value) is tuple:
        return type(value)(_fill(v, inputs) for v in value)
    if type(value) is dict:
        return {k: _fill(v, inputs) for k, v in value.items()}
    return value


def _fresh_outputs(outputs, inputs, op):
    """A composite may hand back a tensor it was given (`ops.copy(x)` is `x`): the node's
    outputs must be new tensors, or the graph would loop."""
    def fresh(x):
        if not isinstance(x, kt.KerasTensor):
            raise TypeError(f"Op node '{op.name}' (gk.ops.{op.op_name}) returned a non-tensor "
                            f"output on KerasTensors: {x!r}")
        if x._keras_history is None and not any(x is i for i in inputs):
            return x
        return kt.KerasTensor(x.shape, x.dtype, sparse=x.sparse)
    return tree.map_structure(fresh, outputs)


def _no_tensor_ref(ref):
    raise TypeError("an op node's stored arguments hold no KerasTensors (they are its inputs)")
