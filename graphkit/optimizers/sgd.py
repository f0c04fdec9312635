"""`gk.optimizers.SGD`: gradient descent with optional (Nesterov) momentum, Keras's update:

    m = momentum * m - lr * g
    w = w + m                               (plain)
    w = w + momentum * m - lr * g           (nesterov)
"""
from graphkit import ops
from graphkit.optimizers.optimizer import Optimizer


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        if not isinstance(momentum, (int, float)) or momentum < 0 or momentum > 1:
            raise ValueError(f"SGD: `momentum` must be a float in [0, 1], received {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.momentums = self.add_optimizer_variables(var_list, "momentum") \
            if self.momentum != 0 else []

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.multiply(gradient, lr)
        if self.momentum == 0:
            variable.assign(ops.subtract(variable, step))
            return
        m = self.momentums[self._get_variable_index(variable)]
        m.assign(ops.subtract(ops.multiply(m, self.momentum), step))
        if self.nesterov:
            variable.assign(ops.add(variable, ops.subtract(ops.multiply(m, self.momentum),
                                                           step)))
        else:
            variable.assign(ops.add(variable, m))

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
