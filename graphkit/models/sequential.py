"""`gk.Sequential`: a plain stack of layers, each with one input and one output.

Once the input shape is known (from an `Input` first, or from the first call) the stack is
built into a Functional model, which runs it, validates inputs and gives it a graph.
"""
from graphkit import tree
from graphkit.layers.core.input_layer import InputLayer
from graphkit.layers.layer import Layer, get_keras_mask
from graphkit.models import serialization
from graphkit.models.model import Model


class Sequential(Model):
    _untracked_attrs = Model._untracked_attrs | {"_functional", "_sequence"}

    def __new__(cls, *args, **kwargs):
        return Layer.__new__(cls, *args, **kwargs)

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._functional = None
        self._sequence = []
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if self._sequence:
            self._maybe_rebuild()

    # -- editing ---------------------------------------------------------------------------------
    def add(self, layer, rebuild=True):
        """Append a layer (or an `Input`) to the stack."""
        if not self._sequence and getattr(layer, "_input_shape_arg", None) is not None:
            self.add(InputLayer(shape=layer._input_shape_arg), rebuild=False)
        history = getattr(layer, "_keras_history", None)
        if history is not None and isinstance(history.operation, InputLayer):
            layer = history.operation
        if not isinstance(layer, Layer):
            raise ValueError(f"Sequential '{self.name}': only gk.layers.Layer instances can "
                             f"be added, received {layer!r} of type {type(layer).__name__}")
        if any(l.name == layer.name for l in self._sequence):
            raise ValueError(f"Sequential '{self.name}': all layers must have unique names; "
                             f"'{layer.name}' is already the name of a layer in this model. "
                             "Pass a unique `name` argument.")
        if isinstance(layer, InputLayer) and self._sequence and \
                isinstance(self._sequence[0], InputLayer):
            raise ValueError(f"Sequential '{self.name}' already has the input shape "
                             f"{self._sequence[0].batch_shape}; it cannot take another Input")
        if isinstance(layer, InputLayer) and self._sequence:
            raise ValueError(f"Sequential '{self.name}': an Input can only be the first "
                             "layer")
        self._sequence.append(layer)
        self._tracker.add_to_store("layers", layer)
        if rebuild:
            self._maybe_rebuild()
        else:
            self._forget_structure()

    def pop(self, rebuild=True):
        """Remove and return the last layer."""
        if not self.layers:
            raise IndexError(f"Sequential '{self.name}': pop() from a model with no layers")
        layer = self._sequence.pop()
        self._tracker.untrack(layer)
        self._forget_structure()
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _forget_structure(self):
        """The stack changed: drop what was made for the old one, the compiled train, test
        and predict steps included (a bound step would keep running the old layers)."""
        self.built = False
        self._functional = None
        self._set("_step_functions", {})

    def _maybe_rebuild(self):
        self._forget_structure()
        if len(self._sequence) < 2:
            return
        if isinstance(self._sequence[0], InputLayer):
            self.build(self._sequence[0].batch_shape)
        elif _single_model_input(self._sequence[0]) is not None:
            # As Keras: a first layer that knows its input shape (a model, such as a
            # pretrained base) builds the stack at once.
            self.build(_single_model_input(self._sequence[0]).shape)

    # -- build and call --------------------------------------------------------------------------
    def build(self, input_shape=None):
        if input_shape is None or not _is_shape(input_shape):
            return  # nested inputs: layers are applied one by one in call()
        input_shape = tuple(input_shape)
        if not self._sequence:
            raise ValueError(f"Sequential '{self.name}' cannot be built: it has no layers. "
                             "Add some with model.add(layer).")
        if isinstance(self._sequence[0], InputLayer):
            expected = self._sequence[0].batch_shape
            if len(expected) != len(input_shape) or any(
                    e is not None and g is not None and e != g
                    for e, g in zip(expected[1:], input_shape[1:])):
                raise ValueError(f"Sequential '{self.name}' has the input shape {expected}, "
                                 f"so it cannot be built for input shape {input_shape}")
        else:
            first = InputLayer(batch_shape=(None,) + input_shape[1:],
                               dtype=_input_dtype(self._sequence[0]))
            self._sequence.insert(0, first)
            self._tracker.add_to_store("layers", first)
        x = self._sequence[0].output
        for layer in self._sequence[1:]:
            x = layer(x)
        from graphkit.models.functional import Functional
        self._functional = Functional(inputs=self._sequence[0].output, outputs=x,
                                      name=self.name)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if self._functional is not None:
            return self._functional.call(inputs, training=training, mask=mask)
        outputs = inputs
        for layer in self.layers:
            kwargs = {}
            if layer._call_has_mask_arg and mask is not None:
                kwargs["mask"] = mask
            outputs = layer(outputs, **kwargs)
            mask = tree.map_structure(get_keras_mask, outputs)
            if all(m is None for m in tree.flatten(mask)):
                mask = None
        return outputs

    def compute_mask(self, inputs, previous_mask):
        return None  # the layers set their outputs' masks themselves

    # -- structure -------------------------------------------------------------------------------
    @property
    def layers(self):
        seq = self._sequence
        return list(seq[1:]) if seq and isinstance(seq[0], InputLayer) else list(seq)

    @property
    def graph(self):
        return self._built_functional("graph").graph

    @property
    def inputs(self):
        return self._built_functional("inputs").inputs

    @property
    def outputs(self):
        return self._built_functional("outputs").outputs

    @property
    def input(self):
        return self._built_functional("input").input

    @property
    def output(self):
        return self._built_functional("output").output

    @property
    def input_shape(self):
        return self._built_functional("input_shape").input_shape

    @property
    def output_shape(self):
        return self._built_functional("output_shape").output_shape

    def _built_functional(self, what):
        if self._functional is None:
            raise ValueError(f"Sequential '{self.name}' has no {what} yet: it is not built. "
                             "Give it an Input first (gk.Sequential([gk.Input(shape), ...])) "
                             "or call it on data.")
        return self._functional

    # -- config ----------------------------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable,
                  "layers": [serialization.serialize_layer(l) for l in self._sequence]}
        if self._functional is not None:
            config["build_input_shape"] = list(self._sequence[0].batch_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for data in config["layers"]:
            model.add(serialization.deserialize_layer(data, custom_objects), rebuild=False)
        if model._sequence and isinstance(model._sequence[0], InputLayer):
            model._maybe_rebuild()
        elif config.get("build_input_shape") is not None:
            model.build(tuple(config["build_input_shape"]))
        return model


def _single_model_input(layer):
    """The input tensor of a model with one input (Functional, or a built Sequential)."""
    from graphkit.models.functional import Functional
    if isinstance(layer, Functional) or getattr(layer, "_functional", None) is not None:
        inputs = layer.inputs
        return inputs[0] if len(inputs) == 1 else None
    return None


def _input_dtype(layer):
    """The dtype the stack's input takes: a model's own input dtype (the int ids of a text
    model, say), else the first layer's."""
    model_input = _single_model_input(layer)
    return model_input.dtype if model_input is not None else layer.input_dtype


def _is_shape(s):
    return isinstance(s, (list, tuple)) and all(d is None or isinstance(d, int) for d in s)
