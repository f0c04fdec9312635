"""Keras's per-weight options: a weight role ("kernel", "recurrent", "bias", "depthwise"...)
has `{role}_initializer`, `{role}_regularizer` and `{role}_constraint` attributes, saved
under those names in the layer's config."""
from graphkit import constraints, initializers, regularizers


def weight_options_config(layer, roles):
    """The serialized options of each role of `layer`, keyed as Keras's configs."""
    config = {}
    for role in roles:
        config[f"{role}_initializer"] = initializers.serialize(
            getattr(layer, f"{role}_initializer"))
        config[f"{role}_regularizer"] = regularizers.serialize(
            getattr(layer, f"{role}_regularizer"))
        config[f"{role}_constraint"] = constraints.serialize(getattr(layer, f"{role}_constraint"))
    return config
