"""`Node`: one call of a layer (or op) on KerasTensors, and `KerasHistory`, the link from a
KerasTensor back to the node that made it.

A layer called twice has two inbound nodes; a tensor's history says which layer, which call
(node_index) and which output of that call (tensor_index). Walking histories back from a
model's outputs gives its DAG.
"""
import collections

from graphkit import tree
from graphkit.core.keras_tensor import KerasTensor


class KerasHistory(collections.namedtuple("KerasHistory",
                                          ["operation", "node_index", "tensor_index"])):
    __slots__ = ()


class Node:
    def __init__(self, operation, call_args=(), call_kwargs=None, outputs=None):
        self.operation = operation
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.outputs = [] if outputs is None else tree.flatten(outputs)
        for x in self.outputs:
            if not isinstance(x, KerasTensor):
                raise ValueError(f"'{operation.name}' returned a non-tensor output in a "
                                 f"symbolic call: {x!r}")
        self.input_tensors = [x for x in tree.flatten((self.call_args, self.call_kwargs))
                              if isinstance(x, KerasTensor)]
        for t in self.input_tensors:
            if t._keras_history is None:  # a KerasTensor made by hand: a graph entry point
                t._keras_history = KerasHistory(None, 0, 0)
        operation._inbound_nodes.append(self)
        for t in self.input_tensors:
            if t._keras_history.operation is not None:
                t._keras_history.operation._outbound_nodes.append(self)
        node_index = len(operation._inbound_nodes) - 1
        kind = "layer" if hasattr(operation, "weights") else "op"
        for i, t in enumerate(self.outputs):
            t._keras_history = KerasHistory(operation, node_index, i)
            t._origin = f"made by {kind} '{operation.name}'"
        self.is_input = not self.input_tensors
        # The common call `layer(t1, t2, ...)` on KerasTensors alone: fill_in maps it
        # without walking structures (it runs for every node of every eager model call).
        self._flat_call = not self.call_kwargs and all(
            isinstance(x, KerasTensor) for x in self.call_args)

    @property
    def output_tensors(self):
        return self.outputs

    @property
    def parent_nodes(self):
        parents = []
        for t in self.input_tensors:
            op, index, _ = t._keras_history
            if op is not None:
                parents.append(op._inbound_nodes[index])
        return parents

    def fill_in(self, values_by_id):
        """The call's arguments with each KerasTensor replaced by its computed value."""
        if getattr(self, "_flat_call", False):
            return [values_by_id[id(x)] for x in self.call_args], {}

        def swap(x):
            return values_by_id[id(x)] if isinstance(x, KerasTensor) else x
        args = tree.map_structure(swap, list(self.call_args))
        kwargs = tree.map_structure(swap, self.call_kwargs)
        return args, kwargs

    def __repr__(self):
        return f"<Node operation={self.operation.name}, id={id(self)}>"


def make_node_key(operation, node_index):
    return f"{operation.name}_ib-{node_index}"
