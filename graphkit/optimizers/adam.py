"""`gk.optimizers.Adam`, with Keras's form of the update:

    m = m + (g - m) * (1 - beta_1)
    v = v + (g**2 - v) * (1 - beta_2)
    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)      (bias correction in the step)
    w = w - alpha * m / (sqrt(v) + epsilon)                  (epsilon outside the sqrt)

With `amsgrad`, `v` in the last line is the running maximum of `v`.
"""
from graphkit import ops
from graphkit.optimizers.optimizer import Optimizer


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adam", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat") \
            if self.amsgrad else []

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        t = ops.cast(ops.add(self.iterations, 1), dtype)
        beta_1_power = ops.power(ops.convert_to_tensor(self.beta_1, dtype), t)
        beta_2_power = ops.power(ops.convert_to_tensor(self.beta_2, dtype), t)
        i = self._get_variable_index(variable)
        m, v = self._momentums[i], self._velocities[i]
        alpha = ops.divide(ops.multiply(lr, ops.sqrt(ops.subtract(1.0, beta_2_power))),
                           ops.subtract(1.0, beta_1_power))
        m.assign(ops.add(m, ops.multiply(ops.subtract(gradient, m), 1.0 - self.beta_1)))
        v.assign(ops.add(v, ops.multiply(ops.subtract(ops.square(gradient), v),
                                         1.0 - self.beta_2)))
        if self.amsgrad:
            v_hat = self._velocity_hats[i]
            v_hat.assign(ops.maximum(v_hat, v))
            v = v_hat
        variable.assign(ops.subtract(variable, ops.divide(
            ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon))))

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config
