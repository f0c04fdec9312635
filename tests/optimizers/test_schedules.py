"""Learning-rate schedules against their formulas, and as an optimizer's learning rate."""
import math

import numpy as np
import pytest

import graphkit as gk
from graphkit.optimizers import schedules

STEPS = [0, 1, 5, 10, 15, 99, 100, 250]


def values(schedule, steps=STEPS):
    return np.array([float(schedule(np.int64(s))) for s in steps])


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay(staircase):
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=staircase)
    p = np.array(STEPS, float) / 10
    want = 0.1 * 0.5 ** (np.floor(p) if staircase else p)
    np.testing.assert_allclose(values(s), want, rtol=1e-6)


def test_piecewise_constant_decay_boundaries_are_inclusive_on_the_left_interval():
    s = schedules.PiecewiseConstantDecay([10, 100], [1.0, 0.5, 0.1])
    want = [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1]
    np.testing.assert_allclose(values(s), want, rtol=1e-7)


@pytest.mark.parametrize("cycle", [False, True])
def test_polynomial_decay(cycle):
    s = schedules.PolynomialDecay(0.1, decay_steps=100, end_learning_rate=0.01, power=0.5,
                                  cycle=cycle)
    want = []
    for step in STEPS:
        decay_steps = 100.0
        if cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / 100)
        else:
            step = min(step, 100)
        want.append((0.1 - 0.01) * (1 - step / decay_steps) ** 0.5 + 0.01)
    np.testing.assert_allclose(values(s), want, rtol=1e-6)


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay(staircase):
    s = schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=staircase)
    p = np.array(STEPS, float) / 10
    want = 0.1 / (1 + 0.5 * (np.floor(p) if staircase else p))
    np.testing.assert_allclose(values(s), want, rtol=1e-6)


def test_cosine_decay_without_and_with_warmup():
    s = schedules.CosineDecay(0.1, decay_steps=100, alpha=0.1)
    steps = np.minimum(np.array(STEPS, float), 100)
    cosine = 0.5 * (1 + np.cos(np.pi * steps / 100))
    np.testing.assert_allclose(values(s), 0.1 * ((1 - 0.1) * cosine + 0.1), rtol=1e-5,
                               atol=1e-8)
    w = schedules.CosineDecay(0.0, decay_steps=100, warmup_target=0.2, warmup_steps=10)
    want = []
    for step in STEPS:
        step = min(step, 110)
        if step < 10:
            want.append(0.2 * step / 10)
        else:
            want.append(0.2 * 0.5 * (1 + math.cos(math.pi * (step - 10) / 100)))
    np.testing.assert_allclose(values(w), want, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("t_mul,m_mul", [(1.0, 1.0), (2.0, 0.5)])
def test_cosine_decay_restarts(t_mul, m_mul):
    s = schedules.CosineDecayRestarts(0.1, first_decay_steps=10, t_mul=t_mul, m_mul=m_mul,
                                      alpha=0.0)

    def reference(step):
        # Walk the periods explicitly: lengths 10, 10*t_mul, ...; peaks 1, m_mul, ...
        start, length, peak = 0.0, 10.0, 1.0
        while step >= start + length:
            start += length
            length *= t_mul
            peak *= m_mul
        fraction = (step - start) / length
        return 0.1 * peak * 0.5 * (1 + math.cos(math.pi * fraction))
    steps = [0, 3, 9, 10, 12, 29, 31, 65]
    np.testing.assert_allclose(values(s, steps), [reference(t) for t in steps], rtol=1e-4,
                               atol=1e-7)


def test_schedule_drives_the_optimizer_step_by_step():
    s = schedules.PiecewiseConstantDecay([1], [1.0, 0.5])
    opt = gk.optimizers.SGD(learning_rate=s)
    w = gk.Variable(np.zeros(1), name="w")
    for _ in range(3):
        opt.apply_gradients([(np.ones(1), w)])
    # steps 0 and 1 use 1.0, step 2 uses 0.5
    np.testing.assert_allclose(w.numpy(), [-2.5])
    assert "learning_rate" not in [v.name for v in opt.variables]
    with pytest.raises(TypeError, match="schedule"):
        opt.learning_rate = 0.1


def test_schedule_config_round_trip_through_the_optimizer():
    s = schedules.ExponentialDecay(0.1, 10, 0.9, staircase=True)
    opt = gk.optimizers.Adam(learning_rate=s)
    config = opt.get_config()
    assert config["learning_rate"]["class_name"] == "ExponentialDecay"
    clone = gk.optimizers.Adam.from_config(config)
    assert isinstance(clone._learning_rate, schedules.ExponentialDecay)
    assert clone._learning_rate.get_config() == s.get_config()


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="one less than"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0])
