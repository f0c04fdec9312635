"""`ReversibleEmbedding`: an Embedding that can also project back from `output_dim` to
`input_dim` (language-model logits), with `layer(hidden, reverse=True)`.

The reverse projection is `inputs @ embeddings.T` with tied weights (the default), else
`inputs @ reverse_embeddings`, a separate trainable `(output_dim, input_dim)` weight created
after `embeddings` (Keras 3's names, shapes and order). Optionally computed in
`reverse_dtype` and soft-capped: `tanh(logits / cap) * cap`.
"""
from graphkit import ops
from graphkit.layers.core.embedding import Embedding
from graphkit.layers.layer import set_keras_mask


class ReversibleEmbedding(Embedding):
    def __init__(self, input_dim, output_dim, tie_weights=True, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 reverse_dtype=None, logit_soft_cap=None, **kwargs):
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer,
                         embeddings_constraint=embeddings_constraint, mask_zero=mask_zero,
                         **kwargs)
        if logit_soft_cap is not None and not logit_soft_cap > 0:
            raise ValueError(f"ReversibleEmbedding '{self.name}': `logit_soft_cap` must be "
                             f"None or positive. Received: logit_soft_cap={logit_soft_cap!r}")
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = reverse_dtype
        self.logit_soft_cap = logit_soft_cap

    def build(self, input_shape=None):
        if self.built:
            return
        super().build(input_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                name="reverse_embeddings", shape=(self.output_dim, self.input_dim),
                initializer=self.embeddings_initializer, trainable=True)

    def call(self, inputs, reverse=False):
        if not reverse:
            outputs = super().call(inputs)
            # As Keras: the forward mask is set here, since compute_mask cannot tell a
            # forward call (masked) from a reverse one (not masked).
            mask = super().compute_mask(inputs)
            if mask is not None:
                set_keras_mask(outputs, mask)
            return outputs
        return self._reverse(ops.convert_to_tensor(inputs))

    def _reverse(self, inputs):
        if inputs.shape[-1] != self.output_dim:
            raise ValueError(f"ReversibleEmbedding '{self.name}': with reverse=True the "
                             f"inputs' last dimension must be output_dim={self.output_dim}. "
                             f"Received: inputs.shape={tuple(inputs.shape)}")
        kernel = ops.transpose(self.embeddings) if self.tie_weights \
            else ops.convert_to_tensor(self.reverse_embeddings)
        if self.reverse_dtype is not None:
            inputs = ops.cast(inputs, self.reverse_dtype)
            kernel = ops.cast(kernel, self.reverse_dtype)
        logits = ops.matmul(inputs, kernel)
        if self.logit_soft_cap is not None:
            cap = self.logit_soft_cap
            logits = ops.multiply(ops.tanh(ops.divide(logits, cap)), cap)
        return logits

    def compute_mask(self, inputs, mask=None):
        return None  # the forward call sets its mask itself (see call)

    def compute_output_spec(self, inputs, reverse=False):
        # `reverse` is no tensor, so the default spec (compute_output_shape fed with the
        # tensor arguments' shapes only) cannot see it: run call() on the symbolic inputs,
        # which also sets the forward call's mask.
        return self.call(inputs, reverse=reverse)

    def compute_output_shape(self, inputs_shape, reverse=False):
        # Named after call()'s `inputs`, which is how symbolic calls match the two.
        if reverse:
            return (*tuple(inputs_shape)[:-1], self.input_dim)
        return (*tuple(inputs_shape), self.output_dim)

    def get_config(self):
        return {**super().get_config(), "tie_weights": self.tie_weights,
                "reverse_dtype": self.reverse_dtype, "logit_soft_cap": self.logit_soft_cap}
