"""Keras's Adam update, written once per framework so that every peer does the same math.

Keras 3: step t starts at 1; alpha = lr * sqrt(1 - b2^t) / (1 - b1^t);
m += (g - m) * (1 - b1); v += (g^2 - v) * (1 - b2); p -= alpha * m / (sqrt(v) + eps).
(PyTorch's and tinygrad's own Adam put eps inside the bias correction, which gives other
numbers, so those peers use this update instead of their built-in optimizer.)
"""
import math

import numpy as np

LR, BETA_1, BETA_2, EPSILON = 1e-3, 0.9, 0.999, 1e-7


def alpha(t):
    return LR * math.sqrt(1.0 - BETA_2 ** t) / (1.0 - BETA_1 ** t)


class NumpyAdam:
    """In-place NumPy Adam: the 'eager NumPy floor' update (and the float64 reference's)."""

    def __init__(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def apply(self, params, grads):
        self.t += 1
        step_size = alpha(self.t)
        for p, g, m, v in zip(params, grads, self.m, self.v):
            tmp = g - m
            tmp *= 1.0 - BETA_1
            m += tmp
            np.multiply(g, g, out=tmp)
            tmp -= v
            tmp *= 1.0 - BETA_2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp += EPSILON
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp


def jax_adam(params, grads, m, v, t):
    """Pure-function Adam for a jitted JAX step; t is the new step count (float32 scalar)."""
    import jax.numpy as jnp
    step_size = LR * jnp.sqrt(1.0 - BETA_2 ** t) / (1.0 - BETA_1 ** t)
    new_m = [mi + (g - mi) * (1.0 - BETA_1) for mi, g in zip(m, grads)]
    new_v = [vi + (g * g - vi) * (1.0 - BETA_2) for vi, g in zip(v, grads)]
    new_p = [p - step_size * mi / (jnp.sqrt(vi) + EPSILON)
             for p, mi, vi in zip(params, new_m, new_v)]
    return new_p, new_m, new_v


def torch_adam_foreach(torch, params, grads, m, v, t):
    """PyTorch eager Adam with the multi-tensor (foreach) kernels torch.optim uses."""
    with torch.no_grad():
        torch._foreach_lerp_(m, grads, 1.0 - BETA_1)          # m + (g - m) * (1 - b1)
        torch._foreach_lerp_(v, torch._foreach_mul(grads, grads), 1.0 - BETA_2)
        denom = torch._foreach_sqrt(v)
        torch._foreach_add_(denom, EPSILON)
        torch._foreach_addcdiv_(params, m, denom, value=-alpha(t))


def torch_adam_loop(params, grads, m, v, step_size):
    """Per-tensor Adam for torch.compile (step_size is a 0-d tensor: no recompiles)."""
    for p, g, mi, vi in zip(params, grads, m, v):
        mi.add_((g - mi) * (1.0 - BETA_1))
        vi.add_((g * g - vi) * (1.0 - BETA_2))
        p.sub_(step_size * mi / (vi.sqrt() + EPSILON))


def tinygrad_adam(params, grads, m, v, t):
    """Adam inside a TinyJit step: assigns p, m, v and the step count t."""
    t.assign(t + 1)
    step_size = LR * (1.0 - (t * math.log(BETA_2)).exp()).sqrt() / (
        1.0 - (t * math.log(BETA_1)).exp())
    for p, g, mi, vi in zip(params, grads, m, v):
        mi.assign(mi + (g - mi) * (1.0 - BETA_1))
        vi.assign(vi + (g * g - vi) * (1.0 - BETA_2))
        p.assign(p.detach() - step_size * mi / (vi.sqrt() + EPSILON))
    return [t, *params, *m, *v]
