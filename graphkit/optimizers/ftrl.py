"""`gk.optimizers.Ftrl`: Follow The Regularized Leader (McMahan et al. 2013, "Ad Click
Prediction: a View from the Trenches", Algorithm 1, with a general learning-rate power),
Keras's update:

    g_shrunk = g + 2 * l2_shrinkage * w
    n_new = n + g**2
    z = z + g_shrunk - (n_new**-p - n**-p) / lr * w          (p = learning_rate_power)
    quadratic = n_new**-p / lr + 2 * (l2 + beta / (2 * lr))
    w = (clip(z, -l1, l1) - z) / quadratic                   (0 where |z| <= l1)
    n = n_new
"""
from graphkit import ops
from graphkit.optimizers.optimizer import Optimizer


class Ftrl(Optimizer):
    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        _check_signs(initial_accumulator_value, learning_rate_power,
                     l1_regularization_strength, l2_regularization_strength,
                     l2_shrinkage_regularization_strength)
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators, self._linears = self.add_optimizer_variables(
            var_list, ["accumulator", "linear"],
            initializer=[float(self.initial_accumulator_value), "zeros"])

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        i = self._get_variable_index(variable)
        accumulator, linear = self._accumulators[i], self._linears[i]
        power = -self.learning_rate_power
        l2 = ops.add(self.l2_regularization_strength,
                     ops.divide(self.beta, ops.multiply(2.0, lr)))
        shrunk_gradient = ops.add(gradient, ops.multiply(
            2 * self.l2_shrinkage_regularization_strength, variable))
        new_accumulator = ops.add(accumulator, ops.square(gradient))
        sigma = ops.divide(ops.subtract(ops.power(new_accumulator, power),
                                        ops.power(accumulator, power)), lr)
        linear.assign(ops.add(linear, ops.subtract(shrunk_gradient,
                                                   ops.multiply(sigma, variable))))
        quadratic = ops.add(ops.divide(ops.power(new_accumulator, power), lr),
                            ops.multiply(2, l2))
        l1 = self.l1_regularization_strength
        variable.assign(ops.divide(ops.subtract(ops.clip(linear, -l1, l1), linear),
                                   quadratic))
        accumulator.assign(new_accumulator)

    def get_config(self):
        config = super().get_config()
        config.update({
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength":
                self.l2_shrinkage_regularization_strength,
            "beta": self.beta})
        return config


def _check_signs(initial_accumulator_value, learning_rate_power, l1, l2, l2_shrinkage):
    """Keras's argument checks: the power is <= 0, everything else >= 0."""
    if learning_rate_power > 0.0:
        raise ValueError("`learning_rate_power` needs to be negative or zero. Received: "
                         f"learning_rate_power={learning_rate_power}.")
    for arg, value in (("initial_accumulator_value", initial_accumulator_value),
                       ("l1_regularization_strength", l1),
                       ("l2_regularization_strength", l2),
                       ("l2_shrinkage_regularization_strength", l2_shrinkage)):
        if value < 0.0:
            raise ValueError(f"`{arg}` needs to be positive or zero. Received: "
                             f"{arg}={value}.")
