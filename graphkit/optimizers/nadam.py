"""`gk.optimizers.Nadam`: Adam with Nesterov momentum (Dozat 2016, "Incorporating Nesterov
Momentum into Adam", Algorithm 2, with its momentum schedule), Keras's update:

    mu_t = beta_1 * (1 - 0.5 * 0.96**t)                  (the momentum schedule)
    u_product = u_product * mu_t                         (once per step, before the slots)
    m = m + (g - m) * (1 - beta_1)
    v = v + (g**2 - v) * (1 - beta_2)
    m_hat = mu_{t+1} * m / (1 - u_product * mu_{t+1}) + (1 - mu_t) * g / (1 - u_product)
    v_hat = v / (1 - beta_2**t)
    w = w - lr * m_hat / (sqrt(v_hat) + epsilon)

`u_product` is one scalar variable after the slots, with the default name `variable` and
outside the optimizer's name scope, as in Keras (so the optimizer state maps one to one).
"""
import numpy as np

from graphkit import config, ops
from graphkit.core.variable import Variable
from graphkit.optimizers.adaptive_moments import AdaptiveMomentsOptimizer
from graphkit.optimizers.optimizer import beta_power

# Dozat's schedule: the momentum at step t is beta_1 * (1 - 0.5 * 0.96**t).
_SCHEDULE_DECAY = 0.96


class Nadam(AdaptiveMomentsOptimizer):
    def build(self, var_list):
        if self.built:
            return
        var_list = list(var_list)
        dtype = var_list[0].dtype if var_list else config.floatx()
        super().build(var_list)
        self._add_moments(var_list)
        self._u_product = Variable(np.asarray(1.0, dtype), trainable=False)
        self._variables.append(self._u_product)

    def _momentum_at(self, offset, dtype):
        """mu_{t} for t = iterations + offset."""
        decay = beta_power(_SCHEDULE_DECAY, self.iterations, dtype, offset=offset)
        return ops.multiply(self.beta_1, ops.subtract(1.0, ops.multiply(0.5, decay)))

    def _update_variables(self, grads, variables, learning_rate):
        # The product of the momenta is shared by all variables: advance it once per step.
        dtype = self._u_product.dtype
        decay = beta_power(_SCHEDULE_DECAY, self.iterations, dtype)
        self._u_product.assign(ops.multiply(
            ops.multiply(self._u_product, self.beta_1),
            ops.subtract(1.0, ops.multiply(0.5, decay))))
        super()._update_variables(grads, variables, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        u_t, u_t_1 = self._momentum_at(1, dtype), self._momentum_at(2, dtype)
        u_product_t = ops.cast(self._u_product, dtype)
        u_product_t_1 = ops.multiply(u_product_t, u_t_1)
        beta_2_power = beta_power(self.beta_2, self.iterations, dtype)
        # Keras takes 1 - beta in the variable's dtype here (not in Python as Adam does).
        one_minus_beta_1 = ops.subtract(1.0, ops.convert_to_tensor(self.beta_1, dtype))
        one_minus_beta_2 = ops.subtract(1.0, ops.convert_to_tensor(self.beta_2, dtype))
        i = self._get_variable_index(variable)
        m, v = self._momentums[i], self._velocities[i]
        m.assign(ops.add(m, ops.multiply(ops.subtract(gradient, m), one_minus_beta_1)))
        v.assign(ops.add(v, ops.multiply(ops.subtract(ops.square(gradient), v),
                                         one_minus_beta_2)))
        m_hat = ops.add(
            ops.divide(ops.multiply(u_t_1, m), ops.subtract(1.0, u_product_t_1)),
            ops.divide(ops.multiply(ops.subtract(1.0, u_t), gradient),
                       ops.subtract(1.0, u_product_t)))
        v_hat = ops.divide(v, ops.subtract(1.0, beta_2_power))
        variable.assign(ops.subtract(variable, ops.divide(
            ops.multiply(m_hat, lr), ops.add(ops.sqrt(v_hat), self.epsilon))))
