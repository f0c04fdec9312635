"""`gk.optimizers.Adadelta` (Zeiler 2012, Algorithm 1), Keras's update, which keeps a
learning rate multiplying Zeiler's step:

    E[g^2] = rho * E[g^2] + (1 - rho) * g**2
    dx = -sqrt(E[dx^2] + epsilon) * g / sqrt(E[g^2] + epsilon)
    E[dx^2] = rho * E[dx^2] + (1 - rho) * dx**2
    w = w + lr * dx
"""
from graphkit import ops
from graphkit.optimizers.optimizer import Optimizer


class Adadelta(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulated_grads, self._accumulated_delta_vars = \
            self.add_optimizer_variables(var_list, ["accumulated_grad",
                                                    "accumulated_delta_var"])

    def _rms(self, accumulated):
        return ops.sqrt(ops.add(accumulated, self.epsilon))

    def _decayed_average(self, average, value):
        return ops.add(ops.multiply(self.rho, average),
                       ops.multiply(1.0 - self.rho, ops.square(value)))

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        i = self._get_variable_index(variable)
        accumulated_grad = self._accumulated_grads[i]
        accumulated_delta_var = self._accumulated_delta_vars[i]
        accumulated_grad.assign(self._decayed_average(accumulated_grad, gradient))
        delta_var = ops.negative(ops.divide(
            ops.multiply(self._rms(accumulated_delta_var), gradient),
            self._rms(accumulated_grad)))
        accumulated_delta_var.assign(self._decayed_average(accumulated_delta_var, delta_var))
        variable.assign(ops.add(variable, ops.multiply(lr, delta_var)))

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
