"""How `Layer.__call__` reads the arguments of one call: which are tensors, which is the
first input, and the shapes to hand to `build()` / `compute_output_shape()`.
"""
import inspect

from graphkit import tree


def is_value(x):
    """A graphkit value: Tensor, KerasTensor or ir Tracer."""
    return hasattr(type(x), "_bind_priority")


class CallSpec:
    def __init__(self, signature, context_args, args, kwargs, layer_name):
        # Context arguments (`training`) the layer's call() does not take are kept aside:
        # they still steer the call context.
        context_values = {name: kwargs.pop(name) for name in context_args
                          if name in kwargs and name not in signature.parameters}
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"Layer '{layer_name}': the arguments do not match "
                            f"call{signature}: {e}") from None
        self.user_arguments = {**context_values, **bound.arguments}
        bound.apply_defaults()
        self.arguments = dict(bound.arguments)
        self.argument_names = list(self.arguments)
        self.tensor_arguments = {}
        self.nested_tensor_names = []
        for name, value in self.arguments.items():
            if is_value(value):
                self.tensor_arguments[name] = value
            elif tree.is_nested(value) and len(value) > 0:
                flat = tree.flatten(value)
                if all(is_value(x) or x is None for x in flat):
                    self.tensor_arguments[name] = value
                    self.nested_tensor_names.append(name)
                elif any(is_value(x) for x in flat):
                    raise ValueError(
                        f"Layer '{layer_name}': in a nested call() argument, tensors and "
                        f"non-tensors cannot be mixed. Received {name}={value!r}")
        self.first_arg = self.arguments[self.argument_names[0]] if self.argument_names else None

    @classmethod
    def one_input(cls, name, value, defaults):
        """The CallSpec of `call(value)` for a signature whose parameters after the first,
        `name`, all have plain defaults (`defaults`): what binding would give, without the
        binding. `value` is a value, or a non-empty list or tuple of values."""
        spec = cls.__new__(cls)
        spec.user_arguments = {name: value}
        spec.arguments = {name: value, **defaults}
        spec.argument_names = list(spec.arguments)
        spec.tensor_arguments = {name: value}
        spec.nested_tensor_names = [] if is_value(value) else [name]
        spec.first_arg = value
        return spec


def shape_of(x):
    return None if x is None else tuple(x.shape)


def shapes_dict(call_spec):
    """{'<arg>_shape': shape} for every tensor argument except masks and catch-alls."""
    out = {}
    for name, value in call_spec.tensor_arguments.items():
        if name in ("mask", "args", "kwargs"):
            continue
        if name in call_spec.nested_tensor_names:
            out[f"{name}_shape"] = tree.map_structure(shape_of, value)
        else:
            out[f"{name}_shape"] = shape_of(value)
    return out


def shapes_for(target_fn, shapes, call_spec, class_name):
    """Align `shapes` with the parameters of `build` or `compute_output_shape`.

    One parameter: it gets the first input's shape, whatever its name. Several: each must be
    named `<call arg>_shape`.
    """
    names = [n for n, p in inspect.signature(target_fn).parameters.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY, p.KEYWORD_ONLY)]
    if len(names) == 1:
        values = list(shapes.values())
        return {names[0]: values[0] if values else None}
    out = {}
    for name in names:
        method = target_fn.__name__
        if not name.endswith("_shape"):
            raise ValueError(
                f"Layer {class_name}: when `{method}()` takes more than one argument, each "
                f"must end in `_shape` and match a `call()` argument; received `{name}`")
        if name[:-len("_shape")] not in call_spec.arguments:
            raise ValueError(
                f"Layer {class_name}: `{method}()` argument `{name}` matches no `call()` "
                f"argument (call() takes {call_spec.argument_names})")
        if name in shapes:
            out[name] = shapes[name]
    return out
