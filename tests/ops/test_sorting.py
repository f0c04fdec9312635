import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.ops.primitive import ShapeError

X = np.array([[3.0, 1.0, 3.0, 2.0], [0.0, 5.0, 5.0, 1.0]])


@pytest.mark.parametrize("axis", [-1, 0, None])
def test_sort_and_argsort_match_numpy_stable(axis):
    np.testing.assert_array_equal(ops.sort(X, axis=axis).numpy(), np.sort(X, axis=axis))
    np.testing.assert_array_equal(ops.argsort(X, axis=axis).numpy(),
                                  np.argsort(X, axis=axis, kind="stable"))
    assert ops.argsort(X).dtype == "int32"


def test_top_k_values_indices_and_ties():
    values, indices = ops.top_k(X, 2)
    np.testing.assert_array_equal(values.numpy(), [[3.0, 3.0], [5.0, 5.0]])
    np.testing.assert_array_equal(indices.numpy(), [[0, 2], [1, 2]])  # lower index first
    with pytest.raises(ShapeError, match="top_k: k=5 is out of range"):
        ops.top_k(X, 5)


def test_top_k_gradient_reaches_selected_values():
    x = gk.ops.convert_to_tensor(np.array([[0.3, 0.9, 0.1, 0.5]]))
    with gk.GradientTape() as tape:
        tape.watch(x)
        values, _ = ops.top_k(x, 2)
        y = ops.sum(values * np.array([[2.0, 3.0]]))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[0.0, 2.0, 0.0, 3.0]])


def test_in_top_k_counts_boundary_ties():
    np.testing.assert_array_equal(ops.in_top_k(np.array([1, 0]), X, 1).numpy(), [False, False])
    np.testing.assert_array_equal(ops.in_top_k(np.array([0, 2]), X, 1).numpy(), [True, True])
    np.testing.assert_array_equal(ops.in_top_k(np.array([3, 3]), X, 3).numpy(), [True, True])
