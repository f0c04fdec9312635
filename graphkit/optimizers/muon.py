"""`gk.optimizers.Muon` (Jordan et al. 2024, github.com/KellerJordan/Muon; Liu et al. 2025,
"Muon is Scalable for LLM Training"), Keras's update.

A 2-D variable not excluded (see `_should_use_adamw`) takes the Muon step:

    m = momentum * m + g;  d = g + momentum * m (nesterov) or m
    w = w - lr * NS5(d) * sqrt(max(rows, cols)) * rms_rate   (no scaling if rms_rate=None)

where NS5 runs `ns_steps` quintic Newton-Schulz iterations X = aX + (bA + cA^2)X, A = XX^T,
from X = d / (||d||_F + 1e-7) (transposed so that rows <= cols): an approximate UV^T.
Every other variable takes an AdamW step with learning rate lr * adam_lr_ratio. Decoupled
weight decay is `weight_decay` for Muon variables and `adam_weight_decay` for the rest.
"""
import math
import re

from graphkit import ops
from graphkit.optimizers.optimizer import Optimizer, beta_power


class Muon(Optimizer):
    def __init__(self, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999,
                 adam_weight_decay=0.004, epsilon=1e-7, weight_decay=0.004, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None, exclude_layers=None,
                 exclude_embeddings=True, muon_a=3.4445, muon_b=-4.7750, muon_c=2.0315,
                 adam_lr_ratio=1, momentum=0.95, ns_steps=5, nesterov=True, rms_rate=0.2,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.adam_beta_1 = adam_beta_1
        self.adam_beta_2 = adam_beta_2
        self.epsilon = epsilon
        self.muon_a = muon_a
        self.muon_b = muon_b
        self.muon_c = muon_c
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = momentum
        self.ns_steps = ns_steps
        self.nesterov = nesterov
        self.exclude_embeddings = exclude_embeddings
        self.exclude_layers = list(exclude_layers or [])
        self.adam_weight_decay = adam_weight_decay
        self.rms_rate = rms_rate

    def _should_use_adamw(self, variable):
        """Orthogonalization is for hidden matrices: anything not 2-D, embeddings (when
        `exclude_embeddings`) and paths matching an `exclude_layers` pattern use AdamW."""
        if len(variable.shape) != 2:
            return True
        if self.exclude_embeddings and "embedding" in variable.path.lower():
            return True
        return any(re.search(pattern, variable.path) for pattern in self.exclude_layers)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # Interleaved per variable as Keras makes them: a momentum for every variable, a
        # velocity only for those on the AdamW path (its presence selects that path).
        self.momentums, self.adam_velocities = [], []
        for variable in var_list:
            self.momentums.append(self.add_variable_from_reference(variable, "momentum"))
            self.adam_velocities.append(
                self.add_variable_from_reference(variable, "velocity")
                if self._should_use_adamw(variable) else None)

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        m, v = self.momentums[i], self.adam_velocities[i]
        if v is not None:
            lr = ops.multiply(learning_rate, self.adam_lr_ratio)
            self._adamw_update_step(gradient, variable, lr, m, v)
        else:
            self._muon_update_step(gradient, variable, learning_rate, m)

    def _muon_update_step(self, gradient, variable, learning_rate, m):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        m.assign(ops.add(ops.multiply(m, self.momentum), gradient))
        direction = ops.add(gradient, ops.multiply(m, self.momentum)) if self.nesterov else m
        update = ops.multiply(lr, self.zeropower_via_newtonschulz5(direction, self.ns_steps))
        variable.assign(ops.subtract(variable, self.lr_adjust(update)))

    def _adamw_update_step(self, gradient, variable, learning_rate, m, v):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        beta_1_power = beta_power(self.adam_beta_1, self.iterations, dtype)
        beta_2_power = beta_power(self.adam_beta_2, self.iterations, dtype)
        alpha = ops.divide(ops.multiply(lr, ops.sqrt(ops.subtract(1.0, beta_2_power))),
                           ops.subtract(1.0, beta_1_power))
        m.assign(ops.add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.adam_beta_1)))
        v.assign(ops.add(v, ops.multiply(ops.subtract(ops.square(gradient), v),
                                         1 - self.adam_beta_2)))
        step = ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon))
        variable.assign(ops.subtract(variable, step))

    def lr_adjust(self, x):
        """Moonlight's scaling (Liu et al. 2025): an update of RMS ~ `rms_rate` whatever
        the matrix shape, so Muon can share AdamW's learning rate and weight decay."""
        if self.rms_rate is None:
            return x
        rows, cols = x.shape[0], x.shape[1]
        return ops.multiply(x, math.sqrt(max(rows, cols)) * self.rms_rate)

    def zeropower_via_newtonschulz5(self, x, steps):
        """The quintic Newton-Schulz iteration towards the orthogonal factor of `x`; its
        coefficients maximize the slope at zero, so a few steps suffice (the result is
        U S' V^T with S' near 1, as good as U V^T in practice)."""
        if len(x.shape) < 2:
            raise ValueError("Expected gradient or momentum to have at least 2 dimensions. "
                             f"Received: shape={tuple(x.shape)}")
        a, b, c = self.muon_a, self.muon_b, self.muon_c
        # Iterate on the wide orientation: X X^T is then the smaller Gram matrix.
        tall = x.shape[-2] > x.shape[-1]
        if tall:
            x = _transpose_last(x)
        # Dividing by the Frobenius norm bounds the spectral norm by 1, where NS converges.
        x = ops.divide(x, ops.add(ops.norm(x, axis=(-2, -1), keepdims=True), 1e-7))
        for _ in range(steps):
            gram = ops.matmul(x, _transpose_last(x))
            poly = ops.add(ops.multiply(gram, b), ops.multiply(ops.matmul(gram, gram), c))
            x = ops.add(ops.multiply(x, a), ops.matmul(poly, x))
        return _transpose_last(x) if tall else x

    def _apply_weight_decay(self, variables):
        for variable in variables:
            if not self._use_weight_decay(variable):
                continue
            decay = self.adam_weight_decay if self._should_use_adamw(variable) \
                else self.weight_decay
            if decay is None:
                continue
            lr = ops.cast(self.learning_rate, variable.dtype)
            shrink = ops.multiply(ops.multiply(variable, ops.cast(decay, variable.dtype)), lr)
            variable.assign(ops.subtract(variable, shrink))

    def get_config(self):
        config = super().get_config()
        config.update({
            "adam_beta_1": self.adam_beta_1, "adam_beta_2": self.adam_beta_2,
            "epsilon": self.epsilon, "exclude_layers": self.exclude_layers,
            "muon_a": self.muon_a, "muon_b": self.muon_b, "muon_c": self.muon_c,
            "adam_lr_ratio": self.adam_lr_ratio, "momentum": self.momentum,
            "ns_steps": self.ns_steps, "nesterov": self.nesterov,
            "exclude_embeddings": self.exclude_embeddings,
            "adam_weight_decay": self.adam_weight_decay, "rms_rate": self.rms_rate})
        return config


def _transpose_last(x):
    return ops.swapaxes(x, -2, -1)
