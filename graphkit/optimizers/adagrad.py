"""`gk.optimizers.Adagrad`, Keras's update:

    acc = acc + g**2                     (acc starts at `initial_accumulator_value`)
    w = w - lr * g / sqrt(acc + epsilon)
"""
from graphkit import ops
from graphkit.optimizers.optimizer import Optimizer


class Adagrad(Optimizer):
    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name="adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        if initial_accumulator_value < 0:
            raise ValueError("Adagrad: `initial_accumulator_value` must be non-negative, "
                             f"received {initial_accumulator_value!r}")
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", initializer=float(self.initial_accumulator_value))

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]
        accumulator.assign(ops.add(accumulator, ops.square(gradient)))
        variable.assign(ops.subtract(variable, ops.divide(
            ops.multiply(lr, gradient), ops.sqrt(ops.add(accumulator, self.epsilon)))))

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value,
                       "epsilon": self.epsilon})
        return config
