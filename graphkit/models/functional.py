"""`Functional`: a model defined by a DAG of layer (and op) calls between KerasTensors.

`gk.Model(inputs, outputs)` walks the tensors' histories back from the outputs to the inputs
to find the call nodes, orders them by depth (as Keras does, which also fixes the order of
`layers` and so of `weights`), and keeps the DAG as a `networkx.DiGraph` (`model.graph`).
Calling the model runs the nodes in that order, eagerly or on KerasTensors or Tracers.
"""
import collections
import warnings

from graphkit import dtypes, tree
from graphkit.core.keras_tensor import KerasTensor
from graphkit.core.tensor import Tensor
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer
from graphkit.models import serialization
from graphkit.models.model import Model
from graphkit.models.node import Node, make_node_key


class Functional(Model):
    _untracked_attrs = Model._untracked_attrs | {
        "_inputs_struct", "_outputs_struct", "_inputs", "_outputs", "_nodes",
        "_nodes_by_depth", "_operations", "_graph", "output_names", "_call_order"}

    def __new__(cls, *args, **kwargs):
        return Layer.__new__(cls, *args, **kwargs)

    def __init__(self, inputs, outputs, name=None, **kwargs):
        trainable = kwargs.pop("trainable", None)
        _check_keras_tensors(inputs, "inputs")
        _check_keras_tensors(outputs, "outputs")
        if isinstance(inputs, dict):
            for key, value in inputs.items():
                if value.name != key:
                    warnings.warn(f"Functional: the inputs dict maps key '{key}' to the input "
                                  f"named '{value.name}'; name the Input '{key}' "
                                  f"(gk.Input(..., name='{key}')) so that data dicts match.")
        if not all(_is_input_tensor(t) for t in tree.flatten(inputs)):
            inputs, outputs = _clone_graph_nodes(inputs, outputs)
        Model.__init__(self, name=name, **kwargs)
        self._inputs_struct = _copy_structure(inputs)
        # A dict of inputs built with its keys in flattening (sorted) order: a list of
        # values can then be matched to it unambiguously (see _match_structure).
        self._inputs_in_key_order = isinstance(inputs, dict) and \
            list(inputs) == list(self._inputs_struct)
        self._outputs_struct = _copy_structure(outputs)
        self._inputs = tree.flatten(inputs)
        self._outputs = tree.flatten(outputs)
        self._nodes, self._nodes_by_depth, self._operations = _map_graph(
            self._inputs, self._outputs)
        # The graph is fixed from here on: the order its nodes run in, found once rather
        # than by sorting the depths on every call.
        self._call_order = tuple(
            node for depth in sorted(self._nodes_by_depth, reverse=True)
            for node in self._nodes_by_depth[depth] if not node.is_input)
        if trainable is not None:
            # Set before the layers are tracked, as Keras does: the model's flag must not
            # overwrite its layers' own (from_config passes trainable=True, and a frozen
            # layer in the config must stay frozen).
            self.trainable = trainable
        for op in self._operations:
            if isinstance(op, Layer):
                self._tracker.add_to_store("layers", op)
        self._graph = None
        self.built = True
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.supports_masking = True  # masks travel on the tensors themselves
        self.output_names = [t._keras_history.operation.name for t in self._outputs]

    # -- structure ---------------------------------------------------------------------------
    @property
    def layers(self):
        return [op for op in self._operations if isinstance(op, Layer)]

    @property
    def operations(self):
        return list(self._operations)

    @property
    def inputs(self):
        return list(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        shapes = tree.map_structure(lambda x: x.shape, self._inputs_struct)
        return shapes[0] if isinstance(shapes, list) and len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = tree.map_structure(lambda x: x.shape, self._outputs_struct)
        return shapes[0] if isinstance(shapes, list) and len(shapes) == 1 else shapes

    @property
    def graph(self):
        """The model's DAG as a networkx.DiGraph: one node per layer or op."""
        if self._graph is None:
            from graphkit.models.graph import build_graph
            self._graph = build_graph(self)
        return self._graph

    @property
    def input_spec(self):
        if self._input_spec is not None:
            return self._input_spec
        if isinstance(self._inputs_struct, dict) and not all(
                isinstance(v, KerasTensor) for v in self._inputs_struct.values()):
            return None
        specs = []
        for x in self._inputs:
            shape = list(x.shape)
            if shape:
                shape[0] = None
            specs.append(InputSpec(shape=tuple(shape), allow_last_axis_squeeze=True,
                                   name=x._keras_history.operation.name))
        return specs

    @input_spec.setter
    def input_spec(self, value):
        self._input_spec = value

    def _assert_input_compatibility(self, first_arg):
        # Inputs are checked one by one in call(), after matching their structure.
        return

    def build(self, input_shape=None):
        self.built = True

    def compute_mask(self, inputs, previous_mask):
        return None

    # -- running the graph ---------------------------------------------------------------------
    def call(self, inputs, training=None, mask=None):
        flat = self._standardize_inputs(inputs)
        if mask is not None:
            for x, m in zip(flat, tree.flatten(mask)):
                if m is not None:
                    x._keras_mask = m
        return _unpack_singleton(self._run_through_graph(flat))

    def _run_through_graph(self, flat_inputs):
        values = {id(x): y for x, y in zip(self._inputs, flat_inputs)}
        for node in self._call_order:
            if not _inputs_ready(node, values):
                continue
            args, kwargs = node.fill_in(values)
            outputs = node.operation(*args, **kwargs)
            if type(outputs) is Tensor and len(node.outputs) == 1:
                values[id(node.outputs[0])] = outputs  # one output: nothing to flatten
                continue
            for x, y in zip(node.outputs, tree.flatten(outputs)):
                values[id(x)] = y
        flat_outputs = [values[id(x)] for x in self._outputs]
        return tree.pack_sequence_as(self._outputs_struct, flat_outputs)

    def _standardize_inputs(self, inputs):
        flat = self._match_structure(inputs)
        self._check_input_shapes(flat)
        flat = [self._convert_input(x, ref, i) for i, (x, ref) in
                enumerate(zip(flat, self._inputs))]
        return [self._adjust_rank(x, ref, i) for i, (x, ref) in
                enumerate(zip(flat, self._inputs))]

    def _input_names(self):
        return [x._keras_history.operation.name for x in self._inputs]

    def _warn_extra_keys(self, inputs, expected):
        # As Keras ("The structure of `inputs` doesn't match"): data under a key that no
        # input has is dropped, which is most often a misspelled input name.
        extra = sorted(str(k) for k in inputs if k not in expected)
        if extra:
            warnings.warn(f"Model '{self.name}': the inputs dict has keys {extra} that match "
                          f"no input and are ignored; the inputs are {sorted(expected)}",
                          stacklevel=4)

    def _match_structure(self, inputs):
        struct = self._inputs_struct
        if isinstance(inputs, dict) and not isinstance(struct, dict):
            names = self._input_names()  # only here: a walk of the inputs' histories
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(
                    f"Model '{self.name}': missing data for input '{missing[0]}'. Received a "
                    f"dict with keys {sorted(inputs)}; expected the keys {names}")
            self._warn_extra_keys(inputs, names)
            return [inputs[n] for n in names]
        if isinstance(struct, dict) and isinstance(inputs, dict):
            missing = [k for k in struct if k not in inputs]
            if missing:
                raise ValueError(
                    f"Model '{self.name}': missing data for input '{missing[0]}'. Received a "
                    f"dict with keys {sorted(inputs)}; expected the keys {sorted(struct)}")
            self._warn_extra_keys(inputs, struct)
            inputs = {k: inputs[k] for k in struct}
        elif _is_leaf(inputs) and len(self._inputs) == 1:
            return [inputs]
        flat = tree.flatten(inputs)
        if getattr(self, "_inputs_in_key_order", False) and isinstance(inputs, (list, tuple)) \
                and len(flat) == len(self._inputs):
            # As Keras: a list for dict inputs is taken in key order, with a warning, when
            # that order is not ambiguous (the dict was built with its keys sorted).
            warnings.warn(f"Model '{self.name}': the inputs are a {type(inputs).__name__}, but "
                          f"the model was built with a dict of inputs {sorted(struct)}; the "
                          "values are taken in that key order. Pass a dict to silence this.",
                          stacklevel=4)
            return flat
        if len(flat) != len(self._inputs) or (
                isinstance(struct, dict) != isinstance(inputs, dict)):
            received = tree.map_structure(
                lambda x: "None" if x is None else f"shape={tuple(getattr(x, 'shape', ()))}",
                inputs)
            raise ValueError(
                f"Model '{self.name}' expects {len(self._inputs)} input(s) "
                f"{_structure_names(struct)}, but it received {len(flat)} input(s) with "
                f"structure {received}")
        return flat

    def _check_input_shapes(self, flat):
        for i, (x, ref) in enumerate(zip(flat, self._inputs)):
            if x is None:
                raise ValueError(f"Model '{self.name}': input '{self._input_names()[i]}' is "
                                 "not optional, but None was passed")
            if not hasattr(x, "shape"):
                import numpy as np
                flat[i] = x = np.asarray(x)
            shape, want = tuple(x.shape), tuple(ref.shape)
            if len(shape) != len(want):
                continue  # _adjust_rank squeezes or expands a last axis of 1, or raises
            for axis, (got, exp) in enumerate(zip(shape, want)):
                if axis > 0 and exp is not None and got is not None and got != exp:
                    raise ValueError(
                        f"Model '{self.name}': input '{self._input_names()[i]}' (input {i}) "
                        f"expects shape {want}, but received data of shape {shape} "
                        f"(axis {axis} is {got}, expected {exp})")

    def _convert_input(self, x, ref, index):
        from graphkit import ops
        got = getattr(x, "dtype", None)
        try:
            got = dtypes.standardize_dtype(got) if got is not None else None
        except ValueError:  # strings, objects (pandas mixed columns): name the input
            raise ValueError(
                f"Model '{self.name}': input '{self._input_names()[index]}' (input {index}) "
                f"has dtype {ref.dtype}, but received data of dtype {got}, which is not a "
                "numeric dtype. Convert the data to numbers first.") from None
        if got is not None and dtypes.is_float(got) and not dtypes.is_float(ref.dtype):
            raise ValueError(
                f"Model '{self.name}': input '{self._input_names()[index]}' (input {index}) "
                f"has dtype {ref.dtype}, but received data of dtype {got}; converting floats "
                f"to {ref.dtype} would lose their fractional part. Cast the data first.")
        mask = getattr(x, "_keras_mask", None)
        y = ops.convert_to_tensor(x, dtype=ref.dtype)
        if mask is not None and getattr(y, "_keras_mask", None) is None:
            try:
                y._keras_mask = mask
            except AttributeError:
                pass
        return y

    def _adjust_rank(self, x, ref, index):
        from graphkit import ops
        rank, want = len(x.shape), len(ref.shape)
        if rank == want:
            return x
        if rank == want + 1 and x.shape[-1] == 1:
            return ops.squeeze(x, axis=-1)
        if rank == want - 1 and ref.shape[-1] == 1:
            return ops.expand_dims(x, axis=-1)
        raise ValueError(
            f"Model '{self.name}': input '{self._input_names()[index]}' (input {index}) "
            f"expects rank {want} (shape {tuple(ref.shape)}), but received data of rank "
            f"{rank} (shape {tuple(x.shape)})")

    # -- config ----------------------------------------------------------------------------------
    def get_config(self):
        if not _functional_like_constructor(type(self)):
            return Model.get_config(self)
        reindex = {}
        for op in self._operations:
            kept = 0
            for i in range(len(op._inbound_nodes)):
                key = make_node_key(op, i)
                if key in self._nodes:
                    reindex[key] = kept
                    kept += 1

        def tensor_ref(t):
            op, node_index, tensor_index = t._keras_history
            return [op.name, reindex[make_node_key(op, node_index)], tensor_index]

        layer_configs = []
        for op in self._operations:
            nodes = []
            for i, node in enumerate(op._inbound_nodes):
                if make_node_key(op, i) in self._nodes and not node.is_input:
                    nodes.append({
                        "args": serialization.serialize_argument(list(node.call_args),
                                                                 tensor_ref),
                        "kwargs": serialization.serialize_argument(node.call_kwargs,
                                                                   tensor_ref)})
            data = serialization.serialize_layer(op)
            data["name"] = op.name
            data["inbound_nodes"] = nodes
            layer_configs.append(data)
        return {
            "name": self.name, "trainable": self.trainable, "layers": layer_configs,
            "input_layers": _map_refs(self._inputs_struct, tensor_ref),
            "output_layers": _map_refs(self._outputs_struct, tensor_ref),
        }


def _check_keras_tensors(structure, label):
    for x in tree.flatten(structure):
        if not isinstance(x, KerasTensor):
            raise ValueError(f"Model: all `{label}` must be KerasTensors (from gk.Input or "
                             f"from calling layers on them), received {x!r} of type "
                             f"{type(x).__name__}")
        if x._keras_history is None:
            raise ValueError(f"Model: the KerasTensor '{x.name}' in `{label}` was not made by "
                             "gk.Input or by a layer or op call, so it belongs to no graph")


def _is_input_tensor(x):
    op, index, _ = x._keras_history
    return op is not None and op._inbound_nodes[index].is_input


def _is_leaf(x):
    return not isinstance(x, (list, tuple, dict))


def _copy_structure(structure):
    return tree.map_structure(lambda x: x, structure)


def _unpack_singleton(x):
    if isinstance(x, (list, tuple)) and len(x) == 1:
        return x[0]
    return x


def _structure_names(struct):
    return tree.map_structure(lambda x: x._keras_history.operation.name, struct)


def _map_refs(structure, tensor_ref):
    if isinstance(structure, KerasTensor):
        return tensor_ref(structure)
    if isinstance(structure, dict):
        return {k: _map_refs(v, tensor_ref) for k, v in structure.items()}
    if isinstance(structure, tuple):  # kept, as Keras: from_config gives a tuple back
        return tuple(_map_refs(v, tensor_ref) for v in structure)
    return [_map_refs(v, tensor_ref) for v in structure]


def _functional_like_constructor(cls):
    import inspect
    params = list(inspect.signature(cls.__init__).parameters)[1:3]
    return params == ["inputs", "outputs"]


# -- graph mapping (Keras's depth ordering) -------------------------------------------------------

def _map_graph(inputs, outputs):
    """(node keys, nodes by depth, operations from inputs to outputs); checks the graph."""
    nodes_in_decreasing_depth, op_index = _build_map(inputs, outputs)
    node_keys = set()
    node_depth, op_depth = {}, {}
    for node in reversed(nodes_in_decreasing_depth):
        op = node.operation
        node_keys.add(make_node_key(op, op._inbound_nodes.index(node)))
        depth = max(node_depth.setdefault(node, 0), op_depth.get(op, 0))
        op_depth[op] = depth
        node_depth[node] = depth
        for parent in node.parent_nodes:
            node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for x in inputs:
        op = x._keras_history.operation
        if op not in op_depth:
            op_depth[op] = 0
            op_index[op] = -1
            node_depth[op._inbound_nodes[0]] = 0
            node_keys.add(make_node_key(op, 0))
    nodes_by_depth = collections.defaultdict(list)
    for node, depth in node_depth.items():
        nodes_by_depth[depth].append(node)
    ops_by_depth = collections.defaultdict(list)
    for op, depth in op_depth.items():
        ops_by_depth[depth].append(op)
    operations = []
    for depth in sorted(ops_by_depth, reverse=True):
        operations.extend(sorted(ops_by_depth[depth], key=lambda o: op_index[o]))
    _check_computable(inputs, nodes_by_depth)
    _check_unique_names(operations)
    return node_keys, dict(nodes_by_depth), operations


def _build_map(inputs, outputs):
    finished, in_progress = set(), set()
    ordered, op_index = [], {}
    input_ids = {id(x) for x in inputs}

    def visit(tensor):
        op, node_index, _ = tensor._keras_history
        if op is None:
            return
        node = op._inbound_nodes[node_index]
        if node in finished:
            return
        if node in in_progress:
            raise ValueError(f"Functional: the tensor '{tensor.name}' made by '{op.name}' is "
                             "part of a cycle")
        op_index.setdefault(op, len(op_index))
        in_progress.add(node)
        if not node.is_input and id(tensor) not in input_ids:
            for t in node.input_tensors:
                visit(t)
        finished.add(node)
        in_progress.discard(node)
        ordered.append(node)

    for t in outputs:
        visit(t)
    return ordered, op_index


def _check_computable(inputs, nodes_by_depth):
    computable = {id(x) for x in inputs}
    names = [x._keras_history.operation.name for x in inputs]
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            if node.is_input:
                continue  # only the model's own inputs are given: other Inputs are not
            for x in node.input_tensors:
                if id(x) not in computable:
                    raise ValueError(
                        f"Graph disconnected: the input '{x.name}' of '{node.operation.name}' "
                        f"cannot be computed from the model inputs {names}. It comes from "
                        f"'{_producer_name(x)}'; add that tensor's Input to the model's "
                        "inputs.")
            computable.update(id(x) for x in node.outputs)


def _producer_name(x):
    op = x._keras_history.operation if x._keras_history else None
    return op.name if op is not None else x.name


def _check_unique_names(operations):
    counts = collections.Counter(op.name for op in operations)
    for name, n in counts.items():
        if n > 1:
            raise ValueError(f"The name '{name}' is used {n} times in the model. All layer "
                             "and op names in a model must be unique.")


def _clone_graph_nodes(inputs, outputs):
    """Inputs that are intermediate tensors become new Inputs; the nodes between are copied.

    This lets `gk.Model(hidden, output)` cut a sub-model out of a bigger graph, sharing its
    layers, without touching the bigger graph's nodes.
    """
    from graphkit.layers.core.input_layer import Input, InputLayer
    nodes, _ = _build_map(tree.flatten(inputs), tree.flatten(outputs))
    mapping, op_mapping = {}, {}
    new_inputs = []
    for x in tree.flatten(inputs):
        if _is_input_tensor(x):
            new_inputs.append(x)
            mapping[id(x)] = x
            continue
        y = Input(batch_shape=x.shape, dtype=x.dtype, name=f"{x.name}_clone")
        new_inputs.append(y)
        mapping[id(x)] = y
        op_mapping[id(x._keras_history.operation)] = y._keras_history.operation

    def swap(x):
        if not isinstance(x, KerasTensor):
            return x
        if id(x) not in mapping:
            mapping[id(x)] = KerasTensor(x.shape, x.dtype, name=f"{x.name}_clone")
        return mapping[id(x)]

    for node in nodes:
        op = op_mapping.get(id(node.operation), node.operation)
        if isinstance(op, InputLayer):
            continue
        Node(op, tree.map_structure(swap, list(node.call_args)),
             tree.map_structure(swap, node.call_kwargs),
             tree.map_structure(swap, node.outputs))
    new_outputs = tree.map_structure(swap, outputs)
    return tree.pack_sequence_as(inputs, new_inputs), new_outputs


# -- from_config ----------------------------------------------------------------------------------

def functional_from_config(cls, config, custom_objects=None):
    """Rebuild a Functional model from `get_config()`: same layers, names, nodes and sharing."""
    config = dict(config)
    created = {}
    pending = collections.OrderedDict()
    for data in config.pop("layers"):
        layer = serialization.deserialize_layer(data, custom_objects)
        if layer.name != data["name"]:
            layer.name = data["name"]
        created[data["name"]] = layer
        pending[data["name"]] = list(data.get("inbound_nodes", []))

    def tensor_from_ref(ref):
        name, node_index, tensor_index = ref
        layer = created.get(name)
        if layer is None:
            raise ValueError(f"Model config: unknown layer '{name}' in a node's inputs")
        if node_index >= len(layer._inbound_nodes):
            raise IndexError(name)  # not made yet: retry after other layers' calls
        return layer._inbound_nodes[node_index].output_tensors[tensor_index]

    while any(pending.values()):
        progressed = False
        for name, node_list in pending.items():
            while node_list:
                try:
                    args = serialization.deserialize_argument(node_list[0]["args"],
                                                              tensor_from_ref)
                    kwargs = serialization.deserialize_argument(node_list[0]["kwargs"],
                                                                tensor_from_ref)
                except IndexError:
                    break
                created[name](*args, **kwargs)
                node_list.pop(0)
                progressed = True
        if not progressed:
            stuck = [n for n, nodes in pending.items() if nodes]
            raise ValueError(f"Model config: the nodes of {stuck} cannot be rebuilt: their "
                             "inputs are never produced")

    def resolve(refs):
        if isinstance(refs, list) and len(refs) == 3 and isinstance(refs[0], str):
            return tensor_from_ref(refs)
        if isinstance(refs, dict):
            return {k: resolve(v) for k, v in refs.items()}
        if isinstance(refs, tuple):
            return tuple(resolve(r) for r in refs)
        if not isinstance(refs, list):
            raise ValueError(f"Model config: `input_layers` and `output_layers` hold "
                             f"[layer_name, node_index, tensor_index] references (in lists or "
                             f"dicts), received {refs!r}")
        return [resolve(r) for r in refs]

    inputs = resolve(config.pop("input_layers"))
    outputs = resolve(config.pop("output_layers"))
    return cls(inputs=inputs, outputs=outputs, **config)


def _inputs_ready(node, values):
    """Whether every input of `node` has a value (a loop, not any(): runs per node)."""
    for x in node.input_tensors:
        if id(x) not in values:
            return False
    return True
