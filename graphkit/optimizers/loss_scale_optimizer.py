"""`gk.optimizers.LossScaleOptimizer`: dynamic loss scaling for float16 training (Keras's
algorithm; Micikevicius et al. 2018, "Mixed Precision Training", section 3.2).

The loss is multiplied by `dynamic_scale` before differentiation, so that small float16
gradients do not flush to zero; the gradients are divided by it before the inner optimizer
sees them. Each step:

    grads all finite:  inner step on grads / scale; after `dynamic_growth_steps` such steps
                       in a row the scale doubles
    otherwise:         the step is skipped (weights and inner state unchanged), the scale
                       halves and the count restarts

Both branches are computed and the outcome selected with `where` (no Python branching on
values), so the same code runs eagerly and compiled. State, in Keras's order: `iteration`,
`learning_rate` (unused, as in Keras), `step_counter`, `dynamic_scale`, then the inner
optimizer's variables.
"""
import numpy as np

from graphkit import ops
from graphkit.core import scopes
from graphkit.optimizers.optimizer import Optimizer

# Arguments of the base Optimizer that old Keras configs of this class carry; only their
# defaults are accepted (they belong on the inner optimizer).
_BASE_DEFAULTS = {
    "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
    "loss_scale_factor": None, "gradient_accumulation_steps": None,
}


class LossScaleOptimizer(Optimizer):
    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000,
                 name=None, **kwargs):
        _check_no_base_arguments(kwargs)
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError("LossScaleOptimizer: `inner_optimizer` must be an Optimizer, "
                            f"received {type(inner_optimizer).__name__}")
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = dynamic_growth_steps
        # The loss is scaled here: the inner optimizer must not unscale it a second time.
        self.inner_optimizer.loss_scale_factor = None

    def build(self, var_list):
        if self.built:
            return
        self.step_counter = self.add_variable((), dtype="int64", name="step_counter")
        self.dynamic_scale = self.add_variable((), initializer=float(self.initial_scale),
                                               dtype="float32", name="dynamic_scale")
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    def scale_loss(self, loss):
        scale = self.dynamic_scale if self.built else self.initial_scale
        return ops.multiply(loss, scale)

    def stateless_scale_loss(self, optimizer_variables, loss):
        # The scale is state: read it from this step's values, not from the variable.
        mapping = list(zip(self.variables, optimizer_variables))
        with scopes.StatelessScope(state_mapping=mapping):
            return self.scale_loss(loss)

    # -- applying gradients -----------------------------------------------------------------
    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if not self.built:
            self.build(trainable_variables)
        variables = self._trainable_variables if trainable_variables is None \
            else list(trainable_variables)
        finite = all_finite(grads)
        before = [(v, v.value) for v in variables + self.inner_optimizer.variables]
        unscaled = [None if g is None else ops.divide(g, self.dynamic_scale) for g in grads]
        # Nothing may be updated in place: a skipped step goes back to the values `before`.
        # A step to be skipped computes on NaN and Inf: NumPy need not warn about them.
        with scopes.donated(()), np.errstate(all="ignore"):
            self.inner_optimizer.apply(unscaled, trainable_variables)
        for variable, old in before:
            variable.assign(ops.where(finite, variable.value, old))
        self._update_scale(finite)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def _update_scale(self, finite):
        """Double the scale after `dynamic_growth_steps` finite steps; halve it (and restart
        the count) after a non-finite one."""
        grow = ops.logical_and(finite, ops.equal(self.step_counter,
                                                 self.dynamic_growth_steps - 1))
        counted = ops.add(self.step_counter, 1)
        self.step_counter.assign(ops.where(ops.logical_and(finite, ops.logical_not(grow)),
                                           counted, ops.zeros_like(counted)))
        scale = self.dynamic_scale
        self.dynamic_scale.assign(ops.where(
            grow, ops.multiply(scale, 2.0),
            ops.where(finite, scale, ops.multiply(scale, 0.5))))

    def check_finite(self, grads):
        return all_finite(grads)

    # -- config -----------------------------------------------------------------------------
    def get_config(self):
        # Upward import: the optimizer registry lists this class.
        from graphkit import optimizers
        return {"name": self.name,
                "inner_optimizer": optimizers.serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from graphkit import optimizers
        config = dict(config)
        inner = optimizers.deserialize(config.pop("inner_optimizer"),
                                       custom_objects=custom_objects)
        return cls(inner, **config)


def all_finite(grads):
    """True when no gradient holds a NaN or an Inf (None gradients are ignored)."""
    checks = [ops.all(ops.isfinite(g)) for g in grads if g is not None]
    result = checks[0]
    for check in checks[1:]:
        result = ops.logical_and(result, check)
    return result


def _check_no_base_arguments(kwargs):
    if not kwargs.pop("dynamic", True):
        raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, "
                         "simply set `loss_scale_factor` directly on the `inner_optimizer`.")
    for arg, default in _BASE_DEFAULTS.items():
        if arg in kwargs and kwargs.pop(arg) != default:
            raise ValueError(f"LossScaleOptimizer does not support `{arg}`. Instead, set "
                             f"`{arg}` on the `inner_optimizer`.")
    if kwargs:
        raise ValueError("LossScaleOptimizer does not support arguments: "
                         f"`{'`, `'.join(kwargs)}`.")
