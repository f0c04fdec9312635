"""Learning-rate schedules: `schedule(step)` gives the learning rate at optimizer step `step`.

They are written with `gk.ops` only (piecewise choices are `where`s, not Python `if`s on the
step), so an optimizer whose learning rate is a schedule can be traced and compiled. The
formulas are Keras 3's.
"""
import math

from graphkit import ops
from graphkit.utils.registry import ObjectRegistry


class LearningRateSchedule:
    """Base class: subclasses define `__call__(step)` and `get_config()`."""

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override __call__(step)")

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override get_config() "
            "to be serializable")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_positive(schedule, arg, value):
    if not value > 0:
        raise ValueError(f"{schedule}: argument `{arg}` must be > 0, received {arg}={value!r}")


def _as_float(step, dtype):
    return ops.cast(step, dtype)


class _DecayBySteps(LearningRateSchedule):
    """A decay driven by `step / decay_steps` (floored if staircase), at `decay_rate`."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        _check_positive(type(self).__name__, "decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name or type(self).__name__

    def _progress(self, step):
        """(the initial rate as a tensor, step / decay_steps in its dtype)."""
        initial = ops.convert_to_tensor(self.initial_learning_rate)
        p = ops.divide(_as_float(step, initial.dtype), float(self.decay_steps))
        return initial, ops.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_DecayBySteps):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)` (floored if staircase)."""

    def __call__(self, step):
        initial, p = self._progress(step)
        rate = ops.convert_to_tensor(self.decay_rate, dtype=initial.dtype)
        return ops.multiply(initial, ops.power(rate, p))


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[1]` up to `boundaries[1]`, ..."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay: the length of `boundaries` must be one less than "
                f"the length of `values`; received boundaries={boundaries} (length "
                f"{len(boundaries)}) and values={values} (length {len(values)})")
        if any(b1 >= b2 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError("PiecewiseConstantDecay: `boundaries` must be strictly "
                             f"increasing, received {boundaries}")
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name

    def __call__(self, step):
        dtype = ops.convert_to_tensor(self.values[0]).dtype
        step = _as_float(step, "float64")  # exact for any realistic step count
        # Walk from the last interval down: each boundary the step has not passed selects
        # the value before it.
        result = ops.convert_to_tensor(self.values[-1], dtype=dtype)
        for boundary, value in zip(reversed(self.boundaries), reversed(self.values[:-1])):
            result = ops.where(ops.less_equal(step, float(boundary)),
                               ops.convert_to_tensor(value, dtype=dtype), result)
        return result

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """From `initial_learning_rate` to `end_learning_rate` over `decay_steps`, as
    `(initial - end) * (1 - step / decay_steps) ** power + end` (cycling if `cycle`)."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay"):
        _check_positive("PolynomialDecay", "decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        initial = ops.convert_to_tensor(self.initial_learning_rate)
        dtype = initial.dtype
        step = _as_float(step, dtype)
        decay_steps = ops.convert_to_tensor(float(self.decay_steps), dtype=dtype)
        if self.cycle:
            # The first multiple of decay_steps not below the step (1 at step 0).
            multiplier = ops.where(ops.equal(step, 0), 1.0,
                                   ops.ceil(ops.divide(step, decay_steps)))
            decay_steps = ops.multiply(decay_steps, multiplier)
        else:
            step = ops.minimum(step, decay_steps)
        p = ops.divide(step, decay_steps)
        span = ops.subtract(initial, self.end_learning_rate)
        return ops.add(ops.multiply(span, ops.power(ops.subtract(1.0, p), self.power)),
                       self.end_learning_rate)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class InverseTimeDecay(_DecayBySteps):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)` (floored if staircase)."""

    def __call__(self, step):
        initial, p = self._progress(step)
        return ops.divide(initial, ops.add(1.0, ops.multiply(float(self.decay_rate), p)))


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup from `initial_learning_rate` to `warmup_target` over
    `warmup_steps`, then a cosine decay to `alpha` times the peak over `decay_steps`."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _check_positive("CosineDecay", "decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step, peak):
        fraction = ops.divide(step, float(self.decay_steps))
        cosine = ops.multiply(0.5, ops.add(1.0, ops.cos(ops.multiply(math.pi, fraction))))
        return ops.multiply(peak, ops.add(ops.multiply(1.0 - self.alpha, cosine), self.alpha))

    def __call__(self, step):
        initial = ops.convert_to_tensor(self.initial_learning_rate)
        step = _as_float(step, initial.dtype)
        if self.warmup_target is None:
            return self._decay(ops.minimum(step, float(self.decay_steps)), initial)
        step = ops.minimum(step, float(self.decay_steps + self.warmup_steps))
        target = ops.convert_to_tensor(self.warmup_target, dtype=initial.dtype)
        # max(.., 1) keeps the unused branch finite when warmup_steps is 0.
        warmup = ops.add(ops.multiply(ops.subtract(target, initial),
                                      ops.divide(step, float(max(self.warmup_steps, 1)))),
                         initial)
        decayed = self._decay(ops.subtract(step, float(self.warmup_steps)), target)
        return ops.where(ops.less(step, float(self.warmup_steps)), warmup, decayed)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods grow by `t_mul`, peaks by `m_mul`."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        _check_positive("CosineDecayRestarts", "first_decay_steps", first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        initial = ops.convert_to_tensor(self.initial_learning_rate)
        dtype = initial.dtype
        fraction = ops.divide(_as_float(step, dtype), float(self.first_decay_steps))
        t_mul = float(self._t_mul)
        if t_mul == 1.0:
            restart = ops.floor(fraction)
            fraction = ops.subtract(fraction, restart)
        else:
            # Periods grow geometrically: find the restart index from the partial sums.
            restart = ops.floor(ops.divide(
                ops.log(ops.subtract(1.0, ops.multiply(fraction, 1.0 - t_mul))),
                math.log(t_mul)))
            done = ops.divide(ops.subtract(1.0, ops.power(t_mul, restart)), 1.0 - t_mul)
            fraction = ops.divide(ops.subtract(fraction, done), ops.power(t_mul, restart))
        peak = ops.power(ops.convert_to_tensor(float(self._m_mul), dtype=dtype), restart)
        cosine = ops.multiply(ops.multiply(0.5, peak),
                              ops.add(1.0, ops.cos(ops.multiply(math.pi, fraction))))
        return ops.multiply(initial, ops.add(ops.multiply(1.0 - self.alpha, cosine),
                                             self.alpha))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


REGISTRY = ObjectRegistry("learning rate schedule", "graphkit.optimizers.schedules", {
    cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
                                  InverseTimeDecay, CosineDecay, CosineDecayRestarts)})


def serialize(schedule):
    return REGISTRY.serialize(schedule)


def deserialize(config, custom_objects=None):
    return REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    """A schedule from an instance or a config dict."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret learning rate schedule identifier: {identifier!r} "
                     "(expected a LearningRateSchedule or a config dict)")

