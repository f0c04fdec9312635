"""`Mean`'s NumPy form of a scalar update (the loss tracker's) gives the bits of its ops form.

Under a GradientTape the ops form runs, so the two are compared on the same inputs.
"""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ops


def _run(values, weights, dtype, taped):
    metric = gk.metrics.Mean(dtype=dtype)
    results = []

    def steps():
        for v, w in zip(values, weights):
            metric.update_state(ops.convert_to_tensor(np.asarray(v, dtype)), sample_weight=w)
            results.append(metric.result().numpy())
    if taped:
        with gk.GradientTape():
            steps()
    else:
        steps()
    return results, metric.total.numpy(), metric.count.numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weights", [[None] * 4, [64, 64, 17, 3], [2.5, 0.1, 1.0, 7.0]])
def test_scalar_updates_match_the_ops_form(dtype, weights):
    values = [0.1234567, 3.3, -7.25, 1e-3]
    eager = _run(values, weights, dtype, taped=False)
    reference = _run(values, weights, dtype, taped=True)
    for a, b in zip(eager[0] + [eager[1], eager[2]], reference[0] + [reference[1], reference[2]]):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_result_of_an_empty_mean_is_zero_and_nan_propagates():
    metric = gk.metrics.Mean()
    assert metric.result().numpy() == 0.0
    metric.update_state(ops.convert_to_tensor(np.float32(np.nan)), sample_weight=4)
    assert np.isnan(metric.result().numpy())


def test_other_inputs_take_the_ops_form():
    metric = gk.metrics.Mean()
    metric.update_state(ops.convert_to_tensor(np.array([1.0, 2.0, 6.0], "float32")),
                        sample_weight=np.array([1.0, 0.0, 1.0], "float32"))
    np.testing.assert_allclose(metric.result().numpy(), 3.5)
    assert metric.count.numpy() == 2.0
