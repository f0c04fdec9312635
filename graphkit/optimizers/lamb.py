"""`gk.optimizers.Lamb` (You et al. 2020, "Large Batch Optimization for Deep Learning:
Training BERT in 76 minutes", Algorithm 2), Keras's update:

    m = m + (g - m) * (1 - beta_1);  v = v + (g**2 - v) * (1 - beta_2)
    r = (m / (1 - beta_1**t)) / (sqrt(v / (1 - beta_2**t)) + epsilon)
    trust_ratio = ||w|| / ||r||        (1 when either norm is 0)
    w = w - trust_ratio * lr * r
"""
from graphkit import ops
from graphkit.optimizers.adaptive_moments import AdaptiveMomentsOptimizer
from graphkit.optimizers.optimizer import beta_power


class Lamb(AdaptiveMomentsOptimizer):
    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._add_moments(var_list)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        beta_1_power = beta_power(self.beta_1, self.iterations, dtype)
        beta_2_power = beta_power(self.beta_2, self.iterations, dtype)
        i = self._get_variable_index(variable)
        m, v = self._momentums[i], self._velocities[i]
        m.assign(ops.add(m, ops.multiply(ops.subtract(gradient, m), 1.0 - self.beta_1)))
        v.assign(ops.add(v, ops.multiply(ops.subtract(ops.square(gradient), v),
                                         1.0 - self.beta_2)))
        m_hat = ops.divide(m, ops.subtract(1.0, beta_1_power))
        v_sqrt = ops.add(ops.sqrt(ops.divide(v, ops.subtract(1.0, beta_2_power))),
                         self.epsilon)
        update = ops.divide(m_hat, v_sqrt)
        ratio = _trust_ratio(variable, update)
        variable.assign(ops.subtract(variable, ops.multiply(ops.multiply(ratio, lr), update)))


def _trust_ratio(variable, update):
    """||w|| / ||update||, or 1 when either norm is 0 (the layer-wise LAMB ratio)."""
    w_norm = ops.sqrt(ops.sum(ops.square(variable)))
    g_norm = ops.sqrt(ops.sum(ops.square(update)))
    return ops.where(ops.greater(w_norm, 0),
                     ops.where(ops.greater(g_norm, 0), ops.divide(w_norm, g_norm), 1.0),
                     1.0)
