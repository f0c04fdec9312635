"""`gk.models.clone_model`: the same architecture with new layers (and new weights).

A Functional model's graph is replayed on new inputs with a clone of each layer (a shared
layer is cloned once and stays shared); a Sequential model is rebuilt from cloned layers;
a subclassed model is rebuilt from its config.
"""
from graphkit import tree
from graphkit.core.keras_tensor import KerasTensor
from graphkit.layers.core.input_layer import Input, InputLayer


def _default_clone(layer):
    return type(layer).from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None):
    from graphkit.models.functional import Functional
    from graphkit.models.sequential import Sequential
    clone_function = clone_function or _default_clone
    if isinstance(model, Sequential):
        return _clone_sequential(model, input_tensors, clone_function)
    if isinstance(model, Functional):
        return _clone_functional(model, input_tensors, clone_function)
    if input_tensors is not None:
        raise ValueError(f"clone_model: `input_tensors` only applies to Functional and "
                         f"Sequential models; '{model.name}' is a subclassed model")
    return type(model).from_config(model.get_config())


def _clone_sequential(model, input_tensors, clone_function):
    from graphkit.models.sequential import Sequential
    layers = [clone_function(layer) for layer in model.layers]
    if input_tensors is not None:
        inputs = tree.flatten(input_tensors)
        if len(inputs) != 1:
            raise ValueError(f"clone_model: a Sequential model takes one input tensor, "
                             f"received {len(inputs)}")
        layers = [inputs[0]] + layers
    elif model._sequence and isinstance(model._sequence[0], InputLayer):
        first = model._sequence[0]
        layers = [Input(batch_shape=first.batch_shape, dtype=first.dtype,
                        name=first.name)] + layers
    return Sequential(layers, trainable=model.trainable, name=model.name)


def _clone_functional(model, input_tensors, clone_function):
    from graphkit.models.functional import Functional
    from graphkit.models.operation import Operation
    values = {}
    if input_tensors is not None:
        new_inputs = tree.flatten(input_tensors)
        if len(new_inputs) != len(model.inputs):
            raise ValueError(f"clone_model: model '{model.name}' has {len(model.inputs)} "
                             f"inputs, received {len(new_inputs)} input tensors")
        for x in new_inputs:
            if not isinstance(x, KerasTensor):
                raise ValueError(f"clone_model: `input_tensors` must be KerasTensors (from "
                                 f"gk.Input), received {type(x).__name__}")
    else:
        new_inputs = [Input(batch_shape=x.shape, dtype=x.dtype,
                            name=x._keras_history.operation.name) for x in model.inputs]
    for old, new in zip(model.inputs, new_inputs):
        values[id(old)] = new
    clones = {}
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            op = node.operation
            if id(op) not in clones:
                # Ops (primitive or composite) hold no weights: a copy, never clone_function.
                clones[id(op)] = (type(op).from_config(op.get_config())
                                  if isinstance(op, Operation) else clone_function(op))
            args, kwargs = node.fill_in(values)
            outputs = clones[id(op)](*args, **kwargs)
            for x, y in zip(node.outputs, tree.flatten(outputs)):
                values[id(x)] = y
    outputs = tree.pack_sequence_as(model._outputs_struct,
                                    [values[id(x)] for x in model._outputs])
    inputs = tree.pack_sequence_as(model._inputs_struct, new_inputs)
    return Functional(inputs, outputs, name=model.name, trainable=model.trainable)
