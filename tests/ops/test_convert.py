"""Python numbers as operands: weak scalars that take the other operand's dtype."""
import numpy as np

from graphkit import ops


def test_python_scalars_keep_their_sign_and_dtype_when_reused():
    # The Tensors made for Python numbers are kept from op to op; -0.0, 0.0, 1 and 1.0 and
    # the operand's dtype must still decide the bits of each result.
    x = ops.convert_to_tensor(np.array([1.0, -2.0], "float32"))
    for _ in range(2):
        assert np.signbit(ops.multiply(x, -0.0).numpy()).tolist() == [True, False]
        assert np.signbit(ops.multiply(x, 0.0).numpy()).tolist() == [False, True]
    assert ops.add(x, 1).dtype == "float32" and ops.add(x, 1.0).dtype == "float32"
    y = ops.convert_to_tensor(np.array([1.0], "float64"))
    assert ops.add(y, 0.1).numpy()[0] == 1.0 + 0.1  # 0.1 in float64, not the float32 one
    assert ops.add(x, 0.1).numpy()[0] == np.float32(1.0) + np.float32(0.1)
