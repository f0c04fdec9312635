"""`gk.metrics.Metric`: state in non-trainable Variables, updated with `gk.ops`.

Because the state lives in Variables and every update is an `assign` of an op result, a
metric can run eagerly, inside a `StatelessScope` (the `stateless_*` methods, which the
trainer's pure step functions use), or inside a trace.
"""
import numpy as np

from graphkit import config, naming, ops
from graphkit.core import scopes
from graphkit.core.variable import Variable


class Metric:
    """Subclasses make state with `add_variable` in `__init__`, and define `update_state`
    and `result`. `reset_state` zeroes every variable unless overridden."""

    def __init__(self, dtype=None, name=None):
        object.__setattr__(self, "_variables", [])
        object.__setattr__(self, "_metrics", [])
        self.name = name or naming.auto_name(type(self).__name__)
        dtype = getattr(dtype, "compute_dtype", dtype)  # a DTypePolicy
        self._dtype = dtype or config.floatx()

    def __setattr__(self, name, value):
        # Sub-metrics assigned as attributes contribute their state, as in Keras.
        if isinstance(value, Metric) and hasattr(self, "_metrics"):
            if not any(m is value for m in self._metrics):
                self._metrics.append(value)
        super().__setattr__(name, value)

    @property
    def dtype(self):
        return self._dtype

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="sum",
                     name=None):
        if not hasattr(self, "_variables"):
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before "
                               "add_variable()")
        dtype = dtype or self.dtype
        shape = tuple(shape)
        if initializer in ("zeros", None):
            value = np.zeros(shape, dtype=dtype)
        elif isinstance(initializer, (int, float)):
            value = np.full(shape, initializer, dtype=dtype)
        else:  # any initializer identifier or object, as Keras
            from graphkit import initializers
            value = initializers.get(initializer)(shape, dtype=dtype)
        with naming.name_scope(self.name.replace("/", ">")):
            variable = Variable(value, name=name, trainable=False, aggregation=aggregation)
        self._variables.append(variable)
        return variable

    add_weight = add_variable

    @property
    def variables(self):
        out = list(self._variables)
        for metric in self._metrics:
            out.extend(metric.variables)
        return out

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define update_state()")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must define result()")

    def reset_state(self):
        for v in self.variables:
            v.assign(ops.zeros(v.shape, dtype=v.dtype))

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    # -- stateless forms: the state goes in and comes out as values ---------------------------
    def _check_state(self, metric_variables):
        if len(metric_variables) != len(self.variables):
            raise ValueError(
                f"{type(self).__name__}: `metric_variables` must match .variables 1:1; "
                f"received {len(metric_variables)} values for {len(self.variables)} variables")

    def stateless_update_state(self, metric_variables, *args, **kwargs):
        self._check_state(metric_variables)
        variables = self.variables
        with scopes.StatelessScope(list(zip(variables, metric_variables))) as scope:
            self.update_state(*args, **kwargs)
        return [_current(scope, v, old) for v, old in zip(variables, metric_variables)]

    def stateless_result(self, metric_variables):
        self._check_state(metric_variables)
        with scopes.StatelessScope(list(zip(self.variables, metric_variables))):
            return self.result()

    def stateless_reset_state(self):
        variables = self.variables
        with scopes.StatelessScope() as scope:
            self.reset_state()
        return [_current(scope, v, v.value) for v in variables]

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def require_2d(metric, y_true_shape, y_pred_shape):
    """The check of a metric that keeps one value per output column."""
    if len(y_pred_shape) != 2 or len(y_true_shape) != 2 or y_pred_shape[-1] is None:
        raise ValueError(f"{type(metric).__name__} expects 2D inputs with shape (batch_size, "
                         "output_dim), with output_dim fully defined (not None). Received "
                         f"input shapes: y_pred.shape={y_pred_shape} and "
                         f"y_true.shape={y_true_shape}.")


def _current(scope, variable, old):
    new = scope.get_current_value(variable)
    return old if new is None else new
