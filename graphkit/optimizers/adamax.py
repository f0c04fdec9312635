"""`gk.optimizers.Adamax`, Keras's update (Kingma & Ba 2015, section 7.1: Adam with the
infinity norm in place of the second moment):

    m = m + (g - m) * (1 - beta_1)
    u = max(beta_2 * u, |g|)
    w = w - lr * m / ((1 - beta_1**t) * (u + epsilon))
"""
from graphkit import ops
from graphkit.optimizers.adaptive_moments import AdaptiveMomentsOptimizer
from graphkit.optimizers.optimizer import beta_power


class Adamax(AdaptiveMomentsOptimizer):
    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._m, self._u = self.add_optimizer_variables(var_list, ["momentum", "norm"])

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        beta_1_power = beta_power(self.beta_1, self.iterations, variable.dtype)
        i = self._get_variable_index(variable)
        m, u = self._m[i], self._u[i]
        m.assign(ops.add(m, ops.multiply(ops.subtract(gradient, m), 1.0 - self.beta_1)))
        u.assign(ops.maximum(ops.multiply(self.beta_2, u), ops.abs(gradient)))
        variable.assign(ops.subtract(variable, ops.divide(
            ops.multiply(lr, m),
            ops.multiply(ops.subtract(1.0, beta_1_power), ops.add(u, self.epsilon)))))
