"""`gk.optimizers.Adam`, with Keras's form of the update:

    m = m + (g - m) * (1 - beta_1)
    v = v + (g**2 - v) * (1 - beta_2)
    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)      (bias correction in the step)
    w = w - alpha * m / (sqrt(v) + epsilon)                  (epsilon outside the sqrt)

With `amsgrad`, `v` in the last line is the running maximum of `v`.
"""
import numpy as np

from graphkit import ops
from graphkit.core import scopes
from graphkit.core.tensor import Tensor, _new_tensor
from graphkit.ops import primitive
from graphkit.optimizers.adaptive_moments import AdaptiveMomentsOptimizer
from graphkit.optimizers.flat_slots import FlatSlots


class Adam(AdaptiveMomentsOptimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adam", **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name,
                         **kwargs)
        self.amsgrad = amsgrad

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._add_moments(var_list)
        self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat") \
            if self.amsgrad else []

    def _alpha(self, learning_rate, dtype):
        """The bias-corrected step size lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)."""
        lr = ops.cast(learning_rate, dtype)
        t = ops.cast(ops.add(self.iterations, 1), dtype)
        beta_1_power = ops.power(ops.convert_to_tensor(self.beta_1, dtype), t)
        beta_2_power = ops.power(ops.convert_to_tensor(self.beta_2, dtype), t)
        return ops.divide(ops.multiply(lr, ops.sqrt(ops.subtract(1.0, beta_2_power))),
                          ops.subtract(1.0, beta_1_power))

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        if not self.amsgrad:
            value = _eager_value(gradient, variable)
            if value is not None:
                return self._eager_update_step(
                    gradient, variable, value, self._eager_alpha(learning_rate, dtype),
                    scopes.donated_arrays())
        gradient = ops.cast(gradient, dtype)
        i = self._get_variable_index(variable)
        m, v = self._momentums[i], self._velocities[i]
        alpha = self._alpha(learning_rate, dtype)
        m.assign(ops.add(m, ops.multiply(ops.subtract(gradient, m), 1.0 - self.beta_1)))
        v.assign(ops.add(v, ops.multiply(ops.subtract(ops.square(gradient), v),
                                         1.0 - self.beta_2)))
        if self.amsgrad:
            v_hat = self._velocity_hats[i]
            v_hat.assign(ops.maximum(v_hat, v))
            v = v_hat
        variable.assign(ops.subtract(variable, ops.divide(
            ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon))))

    # -- eager (NumPy) path: the same update, in fewer NumPy calls --------------------------
    def _update_variables(self, grads, variables, learning_rate):
        """Eagerly, the step size and the donation scope are looked up once per step, not
        once per variable (a small model's eager step is dominated by such per-variable
        Python); any variable the eager path does not apply to goes through `update_step`.
        """
        if self.amsgrad or primitive.ACTIVE_TAPES or \
                type(self).update_step is not Adam.update_step:
            return super()._update_variables(grads, variables, learning_rate)
        donated = scopes.donated_arrays()
        if donated is not None and self._flat_update(grads, variables, learning_rate, donated):
            return
        alphas = {}
        for gradient, variable in zip(grads, variables):
            value = _eager_value(gradient, variable)
            if value is None:
                self.update_step(gradient, variable, learning_rate)
                continue
            dtype = value.dtype
            alpha = alphas.get(dtype)
            if alpha is None:
                alpha = alphas[dtype] = self._eager_alpha(learning_rate, dtype)
            self._eager_update_step(gradient, variable, value, alpha, donated)

    def _flat_update(self, grads, variables, learning_rate, donated):
        """The eager update of all `variables` at once, over one buffer per role
        (`FlatSlots`): the per-variable arithmetic of `_eager_update_step`, in a dozen NumPy
        calls for the whole model. False (nothing done) when the values are not plain eager
        ones; and from then on for good when they do not fit one layout that pays (see
        `FlatSlots.layable`), or when the layout had to be redone on each of the last steps
        (something reassigns the variables every step: the copies would not pay)."""
        if self.__dict__.get("_flat_rebuilds", 0) > _FLAT_REBUILD_LIMIT:
            return False
        for gradient in grads:
            if type(gradient) is not Tensor:
                return False
        layout = self.__dict__.get("_flat_slots")
        # The steady state (every step after the first) is told by one identity check per
        # variable and slot, before any of the per-variable work of laying out anew.
        fresh = layout is None or not layout.holds(variables, donated)
        if fresh:
            layout = self._lay_out_flat(grads, variables)
            if layout is None:
                return False
        else:
            self._flat_rebuilds = 0
        g = layout.gather([t._array for t in grads])
        (w, m, v), (tmp, step) = layout.flats, layout.scratch
        _adam_arithmetic(g, w, m, v, tmp, step, self._eager_alpha(learning_rate, layout.dtype),
                         self.beta_1, self.beta_2, self.epsilon)
        if fresh:  # the variables take their views once; later steps update them in place
            layout.hand_out_views()
        return True

    def _lay_out_flat(self, grads, variables):
        """A new `FlatSlots` over the current weights, momentums and velocities (copies);
        None when a value is not a plain eager one or they do not fit one layout."""
        weights = []
        for gradient, variable in zip(grads, variables):
            value = _eager_value(gradient, variable)
            if value is None:
                return None
            weights.append(value._array)
        index = self._var_index
        owners = (variables, [self._momentums[index[id(v)]] for v in variables],
                  [self._velocities[index[id(v)]] for v in variables])
        arrays = (weights, [s.value._array for s in owners[1]],
                  [s.value._array for s in owners[2]])
        if not FlatSlots.layable(arrays, [g._array for g in grads]):
            self._flat_rebuilds = _FLAT_REBUILD_LIMIT + 1  # checked once, not per step
            return None
        self._flat_rebuilds = self.__dict__.get("_flat_rebuilds", 0) + 1
        layout = self.__dict__["_flat_slots"] = FlatSlots(owners, arrays)
        return layout

    def _eager_update_step(self, gradient, variable, value, alpha, donated):
        """`update_step` on concrete arrays, for eager training (run_eagerly=True).

        The ops form above costs about 20 op dispatches per variable, which dominate a small
        model's eager step. Here the step size `alpha` comes from `_alpha` once per step
        (`_eager_alpha`), and m, v and the variable are updated with a few NumPy calls: in
        place when the step donated their arrays (`donated`, the `scopes.donated_arrays()`
        of the trainer's eager step), else into new arrays (values stay immutable: someone
        may still hold the old ones). Under a tape or a trace the ops form runs instead.
        """
        i = self._get_variable_index(variable)
        m_var, v_var = self._momentums[i], self._velocities[i]
        g = gradient._array
        w = value._array
        if g.dtype != w.dtype:
            g = g.astype(w.dtype)
        m, v = m_var.value._array, v_var.value._array
        in_place = (donated is not None and donated.get(id(m)) is m
                    and donated.get(id(v)) is v and donated.get(id(w)) is w
                    and m is not v and v is not w and m is not w and g.shape == w.shape)
        if not in_place:
            m, v, w = m.copy(), v.copy(), w.copy()
        tmp, step = self._eager_scratch(w)
        _adam_arithmetic(g, w, m, v, tmp, step, alpha, self.beta_1, self.beta_2, self.epsilon)
        # New Tensor objects over the updated arrays: the step sees the variables change.
        m_var.assign(_new_tensor(m))
        v_var.assign(_new_tensor(v))
        variable.assign(_new_tensor(w))

    def _eager_scratch(self, like):
        """Two work arrays of `like`'s shape and dtype, kept from step to step."""
        cache = self.__dict__.setdefault("_eager_scratch_arrays", {})
        key = (like.shape, like.dtype)
        pair = cache.get(key)
        if pair is None:
            pair = cache[key] = (np.empty_like(like), np.empty_like(like))
        return pair

    def _eager_alpha(self, learning_rate, dtype):
        iterations = self.iterations.value
        lr = learning_rate.value if hasattr(learning_rate, "assign") else learning_rate
        key = (id(iterations), id(lr), dtype)
        cached = getattr(self, "_eager_alpha_cache", None)
        if cached is not None and cached[0] == key:
            return cached[2]
        alpha = _numpy_alpha(iterations, lr, dtype, self.beta_1, self.beta_2)
        if alpha is None:
            alpha = self._alpha(lr, dtype).numpy()
        # The values are kept with the key, so that their ids cannot be reused meanwhile.
        self._eager_alpha_cache = (key, (iterations, lr), alpha)
        return alpha

    def get_config(self):
        config = super().get_config()
        config["amsgrad"] = self.amsgrad
        return config


# Consecutive steps that had to lay the flat buffers out anew before the eager update gives
# them up (see `Adam._flat_update`).
_FLAT_REBUILD_LIMIT = 3


def _adam_arithmetic(g, w, m, v, tmp, step, alpha, beta_1, beta_2, epsilon):
    """Adam's update of `w`, `m` and `v` in place, with the work arrays `tmp` and `step`."""
    np.subtract(g, m, out=tmp)           # m + (g - m) * (1 - beta_1)
    tmp *= 1.0 - beta_1
    m += tmp
    np.multiply(g, g, out=tmp)           # v + (g^2 - v) * (1 - beta_2)
    tmp -= v
    tmp *= 1.0 - beta_2
    v += tmp
    np.sqrt(v, out=tmp)                  # w - m * alpha / (sqrt(v) + epsilon)
    tmp += epsilon
    # In the ops form's order (and Keras's), so eager and compiled round alike.
    np.multiply(m, alpha, out=step)
    step /= tmp
    w -= step


def _numpy_alpha(iterations, lr, dtype, beta_1, beta_2):
    """`Adam._alpha` on NumPy scalars: the same ufuncs on the same 0-d arrays as the ops
    form (so the same bits), without its ten op dispatches; None when the values are not
    the plain eager case (an int step count and a float learning-rate Tensor)."""
    if type(iterations) is not Tensor or type(lr) is not Tensor:
        return None
    it, lr = iterations._array, lr._array
    if it.dtype.kind not in "iu" or lr.dtype.kind != "f" or it.ndim or lr.ndim:
        return None
    t = np.add(it, np.asarray(1, it.dtype)).astype(dtype, copy=False)
    lr = lr.astype(dtype, copy=False)
    one = np.asarray(1.0, dtype)
    beta_1_power = np.power(np.asarray(beta_1, dtype), t)
    beta_2_power = np.power(np.asarray(beta_2, dtype), t)
    return np.asarray(np.true_divide(np.multiply(lr, np.sqrt(np.subtract(one, beta_2_power))),
                                     np.subtract(one, beta_1_power)))


def _eager_value(gradient, variable):
    """The variable's value when the update runs on concrete NumPy-backed values with no
    tape recording it (eager training); None inside a trace or under a GradientTape."""
    if type(gradient) is not Tensor or primitive.ACTIVE_TAPES:
        return None
    value = variable.value
    if type(value) is Tensor and value.dtype == variable.dtype:  # no autocast in between
        return value
    return None
