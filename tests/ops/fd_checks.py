"""Finite-difference gradient checks for the composite ops' tests."""
import numpy as np

import graphkit as gk
from graphkit import ops


def assert_grad_matches_fd(fn, *inputs, h=1e-6, rtol=1e-6, atol=1e-8):
    """The tape gradient of sum(fn(*inputs) * ct) (float64, a fixed uneven cotangent)
    with respect to every input equals central differences of the same function."""
    inputs = [np.array(a, np.float64) for a in inputs]
    out_shape = np.shape(np.asarray(fn(*inputs)))
    ct = np.sin(np.arange(int(np.prod(out_shape))) * 0.77 + 0.31).reshape(out_shape) + 0.1

    def loss(*xs):
        return ops.sum(fn(*xs) * ct)

    grads = gk.value_and_grad(loss, argnums=tuple(range(len(inputs))))(*inputs)[1]
    for k, (x, g) in enumerate(zip(inputs, grads)):
        fd = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            orig = x[i]
            x[i] = orig + h
            up = float(loss(*inputs))
            x[i] = orig - h
            down = float(loss(*inputs))
            x[i] = orig
            fd[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(np.asarray(g), fd, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {k}")


def assert_one_node(fn, op_name, *shapes):
    """`fn` on gk.Input KerasTensors of `shapes` (batch dim left out) records one
    functional-graph node, named after the op, and the model runs it as eager does."""
    inputs = [gk.Input(s) for s in shapes]
    model = gk.Model(inputs, fn(*inputs))
    assert [op.name for op in model.operations[len(inputs):]] == [op_name]
    data = [np.random.default_rng(3).uniform(0.1, 1.0, (2,) + tuple(s)).astype("float32")
            for s in shapes]
    np.testing.assert_allclose(np.asarray(model(data if len(data) > 1 else data[0])),
                               np.asarray(fn(*data)), rtol=1e-6, atol=1e-6)
