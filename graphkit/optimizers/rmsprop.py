"""`gk.optimizers.RMSprop`, Keras's update:

    v = rho * v + (1 - rho) * g**2
    a = rho * a + (1 - rho) * g                  (centered only)
    step = lr * g / sqrt(v - a**2 + eps)         (centered; else sqrt(v + eps))
    m = momentum * m + step; w -= m              (momentum > 0; else w -= step)
"""
from graphkit import ops
from graphkit.optimizers.optimizer import Optimizer


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="rmsprop", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = self.add_optimizer_variables(var_list, "momentum") \
            if self.momentum > 0 else []
        self._average_gradients = self.add_optimizer_variables(var_list, "average_gradient") \
            if self.centered else []

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        i = self._get_variable_index(variable)
        velocity = self._velocities[i]
        velocity.assign(ops.add(ops.multiply(self.rho, velocity),
                                ops.multiply(1.0 - self.rho, ops.square(gradient))))
        if self.centered:
            average = self._average_gradients[i]
            average.assign(ops.add(ops.multiply(self.rho, average),
                                   ops.multiply(1.0 - self.rho, gradient)))
            denominator = ops.add(ops.subtract(velocity, ops.square(average)), self.epsilon)
        else:
            denominator = ops.add(velocity, self.epsilon)
        increment = ops.divide(ops.multiply(lr, gradient), ops.sqrt(denominator))
        if self.momentum > 0:
            momentum = self._momentums[i]
            momentum.assign(ops.add(ops.multiply(self.momentum, momentum), increment))
            variable.assign(ops.subtract(variable, momentum))
        else:
            variable.assign(ops.subtract(variable, increment))

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                       "centered": self.centered})
        return config
