"""Arguments shared by the normalization layers: the initializer, regularizer and
constraint of `gamma` and `beta`, and an `axis` that is an int or a list of ints."""
from graphkit import constraints, initializers, regularizers

# kind of argument -> the module that gets and serializes it
_KINDS = {"initializer": initializers, "regularizer": regularizers, "constraint": constraints}
_WEIGHTS = ("beta", "gamma")


def set_affine_arguments(layer, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint):
    """`layer.beta_initializer = initializers.get(beta_initializer)` and so on."""
    values = locals()
    for kind, module in _KINDS.items():
        for weight in _WEIGHTS:
            setattr(layer, f"{weight}_{kind}", module.get(values[f"{weight}_{kind}"]))


def affine_config(layer):
    """The six arguments serialized, in Keras's order."""
    return {f"{weight}_{kind}": module.serialize(getattr(layer, f"{weight}_{kind}"))
            for kind, module in _KINDS.items() for weight in _WEIGHTS}


def add_affine_weight(layer, name, shape):
    """`gamma` or `beta` with the layer's arguments for it; never autocast, since the
    normalization runs in at least float32."""
    return layer.add_weight(
        name=name, shape=shape, initializer=getattr(layer, f"{name}_initializer"),
        regularizer=getattr(layer, f"{name}_regularizer"),
        constraint=getattr(layer, f"{name}_constraint"), trainable=True, autocast=False)


def axis_argument(axis, layer_class):
    """An int, or a list of ints (from a list or tuple); a TypeError otherwise."""
    if isinstance(axis, (list, tuple)) and all(
            isinstance(a, int) and not isinstance(a, bool) for a in axis):
        return list(axis)
    if isinstance(axis, int) and not isinstance(axis, bool):
        return axis
    raise TypeError(f"{layer_class}: expected an int or a list/tuple of ints for the "
                    f"argument `axis`, received {axis!r}")


def normalized_axes(layer, ndim):
    """`layer.axis` as a sorted list of non-negative axes, checked against the rank."""
    axes = layer.axis if isinstance(layer.axis, list) else [layer.axis]
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{type(layer).__name__} '{layer.name}': axis {a} is out of "
                             f"bounds for inputs of rank {ndim}")
    return sorted(a % ndim for a in axes)
