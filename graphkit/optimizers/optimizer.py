"""`gk.optimizers.Optimizer`: the base class every optimizer shares (Keras 3 semantics).

An optimizer owns state variables: `iterations`, the `learning_rate` (a variable unless a
schedule or a callable gives it), and per-variable slots made on the first `apply` by
`build(var_list)`. Every update is written with `gk.ops` and `Variable.assign`, with no NumPy
on values and no Python branching on tensor values, so the same code runs eagerly and
inside a trace (where the reads become graph inputs and the assigns graph outputs).

One update, in order (as in Keras): unscale by `loss_scale_factor`, clip (`clipnorm`,
`clipvalue` or `global_clipnorm`), decoupled weight decay (`var -= var * wd * lr`),
`update_step` per variable, `iterations += 1`, then each variable's `constraint`.
"""
import re
import warnings

import numpy as np

from graphkit import config, naming, ops
from graphkit.core import scopes
from graphkit.core.tensor import Tensor, _new_tensor
from graphkit.core.variable import Variable
from graphkit.ops import primitive
from graphkit.optimizers.schedules import learning_rate_schedule


class Optimizer:
    """Base class. Subclasses define `build(var_list)` (slots) and `update_step`."""

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        kwargs.pop("decay", None)  # removed in Keras 3; old configs still carry it
        if kwargs:
            raise ValueError(f"{type(self).__name__}: argument(s) not recognized: "
                             f"{sorted(kwargs)}")
        # Keras configs always carry this key; only its "off" value is supported.
        if gradient_accumulation_steps:
            raise ValueError(f"{type(self).__name__}: gradient_accumulation_steps is not "
                             "supported by graphkit (received "
                             f"{gradient_accumulation_steps!r}; use None)")
        n_clips = sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm))
        if n_clips > 1:
            raise ValueError(
                f"{type(self).__name__}: only one of `clipnorm`, `clipvalue` and "
                f"`global_clipnorm` can be set. Received: clipnorm={clipnorm}, "
                f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        for arg, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                           ("global_clipnorm", global_clipnorm),
                           ("weight_decay", weight_decay)):
            if value is not None and not (isinstance(value, (int, float)) and value >= 0):
                raise ValueError(f"{type(self).__name__}: `{arg}` must be a non-negative "
                                 f"float or None, received {value!r}")
        if use_ema:
            _check_ema_arguments(type(self).__name__, ema_momentum, ema_overwrite_frequency)
        self.name = name or naming.auto_name(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = bool(use_ema)
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = None
        self.built = False
        self._variables = []
        self._trainable_variables = []
        self._var_index = {}
        self._exclude_ids = set()
        self._exclude_pattern = None
        with naming.name_scope(self.name):
            self._iterations = Variable(np.zeros((), "int64"), name="iteration",
                                        trainable=False)
        self._variables.append(self._iterations)
        self._learning_rate = self._make_learning_rate(learning_rate)

    # -- learning rate ----------------------------------------------------------------------
    def _make_learning_rate(self, learning_rate):
        if isinstance(learning_rate, learning_rate_schedule.LearningRateSchedule) or (
                callable(learning_rate) and not isinstance(learning_rate, Variable)):
            return learning_rate
        if isinstance(learning_rate, bool) or not isinstance(
                learning_rate, (int, float, np.floating, np.integer)):
            raise ValueError(
                f"{type(self).__name__}: `learning_rate` must be a float, a "
                "LearningRateSchedule or a callable returning the learning rate, "
                f"received {learning_rate!r}")
        with naming.name_scope(self.name):
            variable = Variable(np.asarray(float(learning_rate), config.floatx()),
                                name="learning_rate", trainable=False)
        self._variables.append(variable)
        return variable

    @property
    def learning_rate(self):
        """The current learning rate, as a value (a schedule is evaluated at `iterations`)."""
        lr = self._learning_rate
        if isinstance(lr, learning_rate_schedule.LearningRateSchedule):
            return lr(self._iterations)
        if isinstance(lr, Variable):
            return lr
        return lr()

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self._learning_rate, Variable) and not callable(value):
            self._learning_rate.assign(value)
            return
        if not callable(value):
            raise TypeError(
                f"{type(self).__name__}: this optimizer was created with a learning-rate "
                "schedule or callable, so its learning rate cannot be set to a number "
                f"(received {value!r}); create it with a float learning rate instead")
        if isinstance(self._learning_rate, Variable):
            self._variables = [v for v in self._variables if v is not self._learning_rate]
        self._learning_rate = value

    @property
    def iterations(self):
        return self._iterations

    @property
    def variables(self):
        """All state: `iterations`, the learning-rate variable, then the slots in order."""
        return list(self._variables)

    # -- slots ------------------------------------------------------------------------------
    def build(self, var_list):
        """Record the variables this optimizer updates; subclasses add their slots."""
        var_list = list(var_list)
        for i, variable in enumerate(var_list):
            if not isinstance(variable, Variable):
                raise TypeError(f"{type(self).__name__}.build: expected a list of "
                                f"Variables, received {type(variable).__name__} at "
                                f"index {i}")
            self._var_index[id(variable)] = i
        self._trainable_variables = var_list
        if self.use_ema:
            # Made before any subclass slot, so they follow `learning_rate`, as in Keras.
            self._model_variables_moving_average = self.add_optimizer_variables(
                var_list, "average")
        self.built = True

    def add_variable(self, shape, initializer="zeros", dtype=None, name=None):
        """A non-trainable state variable of this optimizer, made under its name scope."""
        dtype = dtype or config.floatx()
        fill = 0.0 if initializer == "zeros" else initializer
        if isinstance(fill, str):
            raise ValueError(f"{type(self).__name__}.add_variable: unknown initializer "
                             f"{initializer!r} (use 'zeros' or a number)")
        with naming.name_scope(self.name):
            variable = Variable(np.full(tuple(shape), fill, dtype=dtype), name=name,
                                trainable=False)
        self._variables.append(variable)
        return variable

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A slot with the shape and dtype of `reference_variable`, named after its path."""
        name = reference_variable.path.replace("/", "_") + "_" + (name or "var")
        return self.add_variable(reference_variable.shape, initializer=initializer,
                                 dtype=reference_variable.dtype, name=name)

    def add_optimizer_variables(self, var_list, name, initializer="zeros"):
        """Slots for every variable; several names give interleaved slots, as in Keras."""
        names = [name] if isinstance(name, str) else list(name)
        inits = [initializer] * len(names) if not isinstance(initializer, (list, tuple)) \
            else list(initializer)
        slots = tuple([] for _ in names)
        for variable in var_list:
            for i, (slot_name, init) in enumerate(zip(names, inits)):
                slots[i].append(self.add_variable_from_reference(variable, slot_name, init))
        return slots[0] if isinstance(name, str) else slots

    def _get_variable_index(self, variable):
        return self._var_index[id(variable)]

    # -- applying gradients -----------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        grads_and_vars = list(grads_and_vars)
        if not grads_and_vars:
            return self._iterations
        grads, variables = zip(*grads_and_vars)
        self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Update `trainable_variables` (the ones the optimizer was built with by default)."""
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    f"{type(self).__name__}.apply: gradients were given without variables "
                    "but the optimizer is not built; pass the variables or call "
                    "`optimizer.build(trainable_variables)` first")
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
            if not self.built:
                self.build(variables)
            self._check_variables_are_known(variables)
        if len(grads) != len(variables):
            raise ValueError(f"{type(self).__name__}.apply: received {len(grads)} gradients "
                             f"for {len(variables)} variables")
        with naming.name_scope(self.name):
            grads, variables = self._filter_empty_gradients(grads, variables)
            if self.loss_scale_factor is not None:
                grads = [ops.divide(g, self.loss_scale_factor) for g in grads]
            grads = self._clip_gradients(grads)
            self._apply_weight_decay(variables)
            self._update_variables(grads, variables, self.learning_rate)
            if self.use_ema:
                self._update_ema()
            self._increment_iterations()
            for variable in variables:
                if variable.constraint is not None:
                    variable.assign(variable.constraint(variable))

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """`apply` on given values: returns (new trainable values, new optimizer values)."""
        if not self.built:
            raise ValueError(f"{type(self).__name__}.stateless_apply: the optimizer must be "
                             "built first (call `optimizer.build(trainable_variables)`)")
        own = self.variables  # a wrapper's (LossScaleOptimizer's) include its inner ones
        if len(optimizer_variables) != len(own):
            raise ValueError(
                f"{type(self).__name__}.stateless_apply: `optimizer_variables` must match "
                f"optimizer.variables 1:1; received {len(optimizer_variables)} values for "
                f"{len(own)} variables")
        if len(trainable_variables) != len(self._trainable_variables):
            raise ValueError(
                f"{type(self).__name__}.stateless_apply: received {len(trainable_variables)} "
                f"trainable values, but the optimizer was built with "
                f"{len(self._trainable_variables)} variables")
        mapping = list(zip(self._trainable_variables, trainable_variables)) + list(
            zip(own, optimizer_variables))
        with scopes.StatelessScope(state_mapping=mapping) as scope:
            self.apply(grads)
        current = scope.get_current_value
        new_trainable = [current(v) for v in self._trainable_variables]
        new_optimizer = [current(v) for v in own]
        # Every variable is in the mapping, so each has a current value.
        return new_trainable, new_optimizer

    def _increment_iterations(self):
        """`iterations += 1`. On a concrete eager value with no tape recording, one NumPy
        add of the same dtype (the ops form's result) instead of an op dispatch and a cast
        check; in a trace or under a tape, `assign_add`."""
        iterations = self._iterations
        value = iterations.value
        if type(value) is Tensor and not primitive.ACTIVE_TAPES:
            array = value._array
            if array.dtype.kind in "iu" and array.ndim == 0:
                iterations.assign(_new_tensor(np.asarray(
                    np.add(array, np.asarray(1, array.dtype)))))
                return
        iterations.assign_add(1)

    def _update_variables(self, grads, variables, learning_rate):
        """`update_step` for each variable: the hook an optimizer overrides to share work
        between its variables' updates (eager Adam computes its step size once)."""
        for grad, variable in zip(grads, variables):
            self.update_step(grad, variable, learning_rate)

    # -- exponential moving average of the weights (use_ema=True) -----------------------------
    def _update_ema(self):
        """avg = m * avg + (1 - m) * var over all built variables (as Keras, also those
        without a gradient this step); m is 0 on the first step so avg starts at var.
        Every `ema_overwrite_frequency` steps the variables take their averages."""
        pairs = list(zip(self._trainable_variables, self._model_variables_moving_average))
        not_first = ops.not_equal(self._iterations, 0)
        for variable, average in pairs:
            momentum = ops.multiply(ops.cast(not_first, variable.dtype), self.ema_momentum)
            average.assign(ops.add(ops.multiply(momentum, average),
                                   ops.multiply(ops.subtract(1.0, momentum), variable)))
        if self.ema_overwrite_frequency:
            # `where`, not a Python branch: the step count is a tensor inside a trace.
            due = ops.equal(ops.mod(ops.add(self._iterations, 1),
                                    self.ema_overwrite_frequency), 0)
            for variable, average in pairs:
                variable.assign(ops.where(due, average, variable))

    def finalize_variable_values(self, var_list):
        """At the end of `fit`: with EMA, the variables take their moving averages."""
        if not (self.use_ema and self.built):
            return
        if len(var_list) != len(self._model_variables_moving_average):
            raise ValueError(
                f"{type(self).__name__}.finalize_variable_values: received "
                f"{len(var_list)} variables, the optimizer holds "
                f"{len(self._model_variables_moving_average)} moving averages")
        for variable, average in zip(var_list, self._model_variables_moving_average):
            variable.assign(average.numpy())

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError(
            f"{type(self).__name__} must define update_step(gradient, variable, learning_rate)")

    def _check_variables_are_known(self, variables):
        for v in variables:
            if id(v) not in self._var_index:
                raise ValueError(
                    f"{type(self).__name__}: unknown variable '{getattr(v, 'path', v)}'. This "
                    "optimizer can only update the variables it was first built with; "
                    "create a new optimizer for a new set of variables")

    def _filter_empty_gradients(self, grads, variables):
        for g in grads:
            if g is None:
                break
        else:
            return grads, variables  # every gradient given: the common case, no new lists
        kept = [(g, v) for g, v in zip(grads, variables) if g is not None]
        if not kept:
            raise ValueError(f"{type(self).__name__}: no gradients provided for any variable")
        if len(kept) < len(grads):
            missing = [v.path for g, v in zip(grads, variables) if g is None]
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing "
                          "the loss. If using `model.compile()`, did you forget to provide "
                          "a `loss` argument?", stacklevel=3)
        return [g for g, _ in kept], [v for _, v in kept]

    # -- clipping and weight decay ----------------------------------------------------------
    def _clip_gradients(self, grads):
        if self.clipnorm:
            return [clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue:
            return [ops.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Variables (or names matching any of `var_names`) that weight decay skips.

        As in Keras, each entry of `var_names` is a regular expression searched for in the
        variable's name (so a plain name matches as a substring, and `"bias$"` works too).
        """
        if self.built:
            raise ValueError(f"{type(self).__name__}.exclude_from_weight_decay must be "
                             "called before the optimizer is built")
        self._exclude_ids = {id(v) for v in (var_list or [])}
        self._exclude_pattern = re.compile("|".join(var_names)) if var_names else None

    def _use_weight_decay(self, variable):
        if id(variable) in self._exclude_ids:
            return False
        return not (self._exclude_pattern is not None
                    and self._exclude_pattern.search(variable.name))

    def _apply_weight_decay(self, variables):
        if not self.weight_decay:
            return
        for variable in variables:
            if self._use_weight_decay(variable):
                lr = ops.cast(self.learning_rate, variable.dtype)
                decay = ops.multiply(ops.multiply(variable, self.weight_decay), lr)
                variable.assign(ops.subtract(variable, decay))

    def scale_loss(self, loss):
        if self.loss_scale_factor is not None:
            return ops.multiply(loss, self.loss_scale_factor)
        return loss

    def stateless_scale_loss(self, optimizer_variables, loss):
        """`scale_loss` in a pure step, whose optimizer state is `optimizer_variables`
        (the values of `variables`); a scale held in a variable is read from them."""
        return self.scale_loss(loss)

    # -- weights and config -----------------------------------------------------------------
    def get_weights(self):
        return [v.numpy() for v in self.variables]

    def set_weights(self, weights):
        own = self.variables
        if len(weights) != len(own):
            raise ValueError(f"{type(self).__name__}.set_weights: expected "
                             f"{len(own)} arrays, received {len(weights)}")
        for variable, value in zip(own, weights):
            if tuple(np.shape(value)) != tuple(variable.shape):
                raise ValueError(f"{type(self).__name__}.set_weights: variable "
                                 f"'{variable.path}' has shape {tuple(variable.shape)}, "
                                 f"received shape {tuple(np.shape(value))}")
            variable.assign(value)

    def save_own_variables(self, store):
        for i, variable in enumerate(self.variables):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store):
        own = self.variables
        if len(store.keys()) != len(own):
            raise ValueError(
                f"Optimizer '{self.name}' has {len(own)} variables but the saved "
                f"state has {len(store.keys())}" + (
                    " (the optimizer is not built yet: build it on the model's trainable "
                    "variables first)" if not self.built else ""))
        for i, variable in enumerate(own):
            variable.assign(store[str(i)])

    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, learning_rate_schedule.LearningRateSchedule):
            lr = learning_rate_schedule.serialize(lr)
        elif isinstance(lr, Variable):
            lr = float(lr.numpy())
        else:
            raise ValueError(f"{type(self).__name__}.get_config: a learning rate given as a "
                             "plain callable cannot be serialized; use a "
                             "LearningRateSchedule subclass with get_config")
        return {
            "name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue, "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = learning_rate_schedule.deserialize(
                config["learning_rate"], custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _check_ema_arguments(name, ema_momentum, ema_overwrite_frequency):
    if not 0 <= ema_momentum <= 1:
        raise ValueError(f"{name}: `ema_momentum` must be in the range [0, 1]. Received: "
                         f"ema_momentum={ema_momentum}")
    if ema_overwrite_frequency and (not isinstance(ema_overwrite_frequency, int)
                                    or ema_overwrite_frequency < 1):
        raise ValueError(f"{name}: `ema_overwrite_frequency` must be an integer >= 1 or "
                         f"None. Received: ema_overwrite_frequency={ema_overwrite_frequency}")


def beta_power(beta, iterations, dtype, offset=1):
    """beta**t for the step t = iterations + offset, in `dtype`: the bias corrections of
    Adam-style moments (Kingma & Ba 2015, Algorithm 1), written as Keras writes them."""
    t = ops.cast(ops.add(iterations, offset), dtype)
    return ops.power(ops.convert_to_tensor(beta, dtype), t)


def clip_by_norm(values, clipnorm):
    """Scale `values` so that their L2 norm is at most `clipnorm` (a zero norm is safe)."""
    l2sum = ops.sum(ops.square(values), keepdims=True)
    positive = ops.greater(l2sum, 0)
    # The two-`where` trick keeps sqrt away from 0, whose gradient is infinite.
    safe = ops.where(positive, l2sum, ops.ones_like(l2sum))
    l2norm = ops.where(positive, ops.sqrt(safe), l2sum)
    return ops.divide(ops.multiply(values, clipnorm), ops.maximum(l2norm, clipnorm))


def global_norm(values):
    total = None
    for v in values:
        s = ops.sum(ops.square(v))
        total = s if total is None else ops.add(total, ops.cast(s, total.dtype))
    return ops.sqrt(total)


def clip_by_global_norm(values, clipnorm):
    """Scale all `values` together so that their joint L2 norm is at most `clipnorm`."""
    norm = global_norm(values)
    scale = ops.multiply(clipnorm, ops.minimum(ops.divide(1.0, norm), 1.0 / clipnorm))
    # A NaN or Inf norm makes the scale NaN, as in Keras, rather than silently zero.
    scale = ops.add(scale, ops.subtract(norm, norm))
    return [ops.multiply(v, ops.cast(scale, v.dtype)) for v in values]
