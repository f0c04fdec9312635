"""`gk.Model`: a Layer with training, evaluation, saving and inspection utilities.

`gk.Model(inputs, outputs)` returns a `Functional` model (through `__new__`, as in Keras);
subclassing `gk.Model` and writing `call` gives a subclassed model. The training loop
(`compile`, `fit`, `evaluate`, `predict`, ...) comes from the trainer mixin.
"""
import json

from graphkit.layers.layer import Layer
from graphkit.trainers.trainer import Trainer


class Model(Trainer, Layer):
    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_init_arguments(args, kwargs):
            from graphkit.models.functional import Functional
            return Functional.__new__(Functional, *args, **kwargs)
        return Layer.__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        if _functional_init_arguments(args, kwargs) and not _is_functional(self):
            if type(self).call is Layer.call:
                # As Keras 3: a subclass without call() given inputs and outputs (to
                # override train_step, say) becomes a Functional subclass.
                from graphkit.models.functional import Functional
                _inject_functional_class(type(self))
                Functional.__init__(self, *args, **kwargs)
                return
            raise TypeError(
                f"{type(self).__name__}: a subclass of gk.Model cannot take functional "
                "`inputs`/`outputs` arguments; either call gk.Model(inputs, outputs) or write "
                "a call() method in your subclass")
        if args:
            raise TypeError(f"{type(self).__name__}.__init__() takes keyword arguments only "
                            f"(name, trainable, dtype), received positional {args!r}")
        Trainer.__init__(self)
        Layer.__init__(self, **kwargs)

    # -- layers ----------------------------------------------------------------------------------
    @property
    def layers(self):
        return list(self._flatten_layers(include_self=False, recursive=False))

    def get_layer(self, name=None, index=None):
        """A layer by its name, or by its index in `model.layers`."""
        if (name is None) == (index is None):
            raise ValueError(f"Model '{self.name}': get_layer() needs exactly one of `name` or "
                             f"`index`, received name={name!r}, index={index!r}")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Model '{self.name}': get_layer(index={index}) is out of "
                                 f"range; the model has {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"Model '{self.name}' has no layer named '{name}'. Its layers are: "
                         f"{[l.name for l in layers]}")

    @property
    def graph(self):
        raise ValueError(f"Model '{self.name}' is a subclassed model: its computation is "
                         "Python code, not a graph of layers. Only Functional and Sequential "
                         "models have a graph.")

    # -- inspection ------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        from graphkit.utils.summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable,
                      layer_range=layer_range)

    # -- config ----------------------------------------------------------------------------------
    def to_json(self, **kwargs):
        from graphkit.models.serialization import serialize_layer
        return json.dumps(serialize_layer(self), **kwargs)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from graphkit.models.functional import Functional, functional_from_config
        functional_config = all(k in config for k in ("layers", "input_layers",
                                                      "output_layers"))
        if functional_config and (cls is Model or issubclass(cls, Functional)):
            return functional_from_config(Functional if cls is Model else cls, config,
                                          custom_objects=custom_objects)
        return super().from_config(config)

    # -- saving (implemented in graphkit.saving) --------------------------------------------------
    def save(self, filepath, overwrite=True):
        """Write the whole model (architecture, weights, compile and optimizer state) to a
        `.keras` file; a failed save leaves any older file intact."""
        from graphkit.saving.archive import save_model
        save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Write every variable (optimizer state included) to a `.weights.npz` file."""
        from graphkit.saving.weights_file import save_weights
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Assign the variables saved by `save_weights` (or in a `.keras` file)."""
        from graphkit.saving.weights_file import load_weights
        load_weights(self, filepath, skip_mismatch=skip_mismatch)


def _functional_init_arguments(args, kwargs):
    return len(args) == 2 or (len(args) == 1 and "outputs" in kwargs) or (
        "inputs" in kwargs and "outputs" in kwargs)


def _inject_functional_class(cls):
    """Put Functional in place of Model among `cls`'s ancestors (Keras 3 does the same)."""
    from graphkit.models.functional import Functional
    if cls is Model:
        return Functional
    if cls is object or issubclass(cls, Functional):
        return cls
    cls.__bases__ = tuple(_inject_functional_class(base) for base in cls.__bases__)
    return cls


def _is_functional(model):
    from graphkit.models.functional import Functional
    return isinstance(model, Functional)
