"""`gk.optimizers.Adafactor` (Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates
with Sublinear Memory Cost", Algorithms 4 and 5), Keras's update at step t:

    rho = min(lr, 1 / sqrt(t));  alpha = max(epsilon_2, rms(w)) * rho
    beta_2 = 1 - t ** beta_2_decay;  G = g**2 + epsilon_1
    rank >= 2: r = beta_2 r + (1 - beta_2) mean(G, -1);  c = beta_2 c + (1 - beta_2) mean(G, -2)
               v = (r / mean(r, -1))[..., None] * c[..., None, :]
    rank < 2:  v = beta_2 v + (1 - beta_2) G
    u = g / sqrt(v);  w = w - alpha * u / max(1, rms(u) / clip_threshold)
"""
from graphkit import ops
from graphkit.optimizers.optimizer import Optimizer


class Adafactor(Optimizer):
    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30,
                 epsilon_2=1e-3, clip_threshold=1.0, relative_step=True, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_2_decay = beta_2_decay
        self.epsilon_1 = epsilon_1
        self.epsilon_2 = epsilon_2
        self.clip_threshold = clip_threshold
        self.relative_step = relative_step

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._r, self._c, self._v = [], [], []
        for variable in var_list:
            self._add_factored_slots(variable)
            self._v.append(self.add_variable_from_reference(variable, "velocity"))

    def _add_factored_slots(self, variable):
        """Row and column statistics for a matrix (or a stack of them). A vector keeps a
        full `velocity` instead, but Keras still makes two unused int32 scalars for it: they
        are kept so that saved optimizer states line up with Keras's."""
        shape = tuple(variable.shape)
        if len(shape) < 2:
            for slots in (self._r, self._c):
                slots.append(self.add_variable((), dtype="int32", name=variable.name))
            return
        self._r.append(self.add_variable(shape[:-1], dtype=variable.dtype,
                                         name=variable.name))
        self._c.append(self.add_variable(shape[:-2] + shape[-1:], dtype=variable.dtype,
                                         name=variable.name))

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        t = ops.cast(ops.add(self.iterations, 1), dtype)
        # The relative step size of the paper: at most 1/sqrt(t) (Keras bounds it so even
        # when relative_step=False or the rate comes from a schedule).
        rho = ops.minimum(lr, ops.divide(1.0, ops.sqrt(t)))
        alpha = ops.multiply(ops.maximum(ops.cast(self.epsilon_2, dtype), _rms(variable)),
                             rho)
        grad_square = ops.add(ops.square(gradient), self.epsilon_1)
        beta_2 = ops.subtract(1.0, ops.power(t, self.beta_2_decay))
        i = self._get_variable_index(variable)
        v = self._v[i]
        if len(variable.shape) >= 2:
            r, c = self._r[i], self._c[i]
            r.assign(_average(beta_2, r, ops.mean(grad_square, axis=-1)))
            c.assign(_average(beta_2, c, ops.mean(grad_square, axis=-2)))
            row = ops.divide(r, ops.mean(r, axis=-1, keepdims=True))
            v.assign(ops.multiply(ops.expand_dims(row, -1), ops.expand_dims(c, -2)))
        else:
            v.assign(_average(beta_2, v, grad_square))
        u = ops.divide(gradient, ops.sqrt(v))
        u = ops.divide(u, ops.maximum(ops.cast(1.0, dtype),
                                      ops.divide(_rms(u), self.clip_threshold)))
        variable.assign(ops.subtract(variable, ops.multiply(alpha, u)))

    def get_config(self):
        config = super().get_config()
        config.update({"beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1,
                       "epsilon_2": self.epsilon_2, "clip_threshold": self.clip_threshold,
                       "relative_step": self.relative_step})
        return config


def _rms(x):
    return ops.sqrt(ops.mean(ops.square(x)))


def _average(beta, old, new):
    """beta * old + (1 - beta) * new: the decaying second-moment average."""
    return ops.add(ops.multiply(beta, old), ops.multiply(ops.subtract(1.0, beta), new))
