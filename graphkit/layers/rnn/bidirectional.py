"""`Bidirectional`: runs an RNN forwards and a copy of it backwards, and merges them."""
from graphkit import ops
from graphkit.layers.layer import Layer
from graphkit.saving import serialization

_MERGE_MODES = ("sum", "mul", "concat", "ave", None)


def _serialize(layer):
    config = serialization.serialize_keras_object(layer)
    config.pop("build_config", None)  # the wrapper builds its copies itself
    return config


def _prefixed(prefix, name):
    return prefix + (name[len(prefix):] if name.startswith(prefix) else name)


def _copy_layer(layer, name, go_backwards):
    config = layer.get_config()
    config["name"] = name
    config["go_backwards"] = go_backwards
    return type(layer).from_config(config)


class Bidirectional(Layer):
    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        if isinstance(layer, dict):
            layer = serialization.deserialize_keras_object(layer)
        if isinstance(backward_layer, dict):
            backward_layer = serialization.deserialize_keras_object(backward_layer)
        if not isinstance(layer, Layer) or not hasattr(layer, "go_backwards"):
            raise ValueError("Bidirectional: `layer` must be a recurrent layer instance "
                             f"(SimpleRNN, LSTM, GRU). Received: layer={layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: `merge_mode` must be one of {list(_MERGE_MODES)}"
                             f". Received: merge_mode={merge_mode!r}")
        super().__init__(**kwargs)
        self.merge_mode = merge_mode
        self.forward_layer = _copy_layer(layer, _prefixed("forward_", layer.name), layer.go_backwards)
        if backward_layer is None:
            backward_layer = _copy_layer(layer, _prefixed("backward_", layer.name),
                                         not layer.go_backwards)
        elif backward_layer.go_backwards == layer.go_backwards:
            raise ValueError("Bidirectional: `backward_layer.go_backwards` must be the "
                             "opposite of `layer.go_backwards`. Received: "
                             f"go_backwards={layer.go_backwards} for both")
        self.backward_layer = backward_layer
        # As Keras: with return_sequences, masked steps output zeros in both directions
        # (the backward output is flipped, so carrying the last output would misalign it).
        for rnn in (self.forward_layer, self.backward_layer):
            rnn.zero_output_for_mask = rnn.return_sequences
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True

    def build(self, sequences_shape, initial_state_shape=None):
        for layer in (self.forward_layer, self.backward_layer):
            with layer._name_scope():
                layer.build(sequences_shape)
        self.built = True

    def call(self, sequences, initial_state=None, mask=None, training=None):
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        y = self.forward_layer(sequences, initial_state=forward_state, mask=mask,
                               training=training)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, mask=mask,
                                    training=training)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.flip(y_rev, axis=1)  # back into the forward time order
        if self.merge_mode is None:
            return [y, y_rev] + states
        merged = {"concat": lambda: ops.concatenate([y, y_rev], axis=-1),
                  "sum": lambda: ops.add(y, y_rev),
                  "ave": lambda: ops.multiply(ops.add(y, y_rev), 0.5),
                  "mul": lambda: ops.multiply(y, y_rev)}[self.merge_mode]()
        return [merged] + states if self.return_state else merged

    def compute_mask(self, sequences, previous_mask):
        mask = previous_mask if self.return_sequences else None
        if self.merge_mode is None:
            mask = [mask, mask]
        else:
            mask = [mask]
        if self.return_state:
            return mask + [None] * (2 * len(self.forward_layer.state_size))
        return mask if self.merge_mode is None else mask[0]

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        out = self.forward_layer.compute_output_shape(sequences_shape)
        states = []
        if self.return_state:
            out, states = out[0], list(out[1:])
        if self.merge_mode is None:
            outs = [out, out]
        else:
            width = out[-1] * 2 if self.merge_mode == "concat" else out[-1]
            outs = [(*out[:-1], width)]
        result = outs + states * 2
        return result if (self.return_state or self.merge_mode is None) else outs[0]

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": _serialize(self.forward_layer),
                "backward_layer": _serialize(self.backward_layer)}
