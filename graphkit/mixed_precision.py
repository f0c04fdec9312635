"""`gk.mixed_precision`, as Keras's `keras.mixed_precision`: the global dtype policy.

    gk.mixed_precision.set_global_policy("mixed_float16")  # float16 compute, float32 weights
"""
from graphkit.config import dtype_policy as global_policy
from graphkit.config import set_dtype_policy as set_global_policy
from graphkit.layers.dtype_policy import DTypePolicy

Policy = DTypePolicy  # Keras's other name for it

__all__ = ["DTypePolicy", "Policy", "global_policy", "set_global_policy"]
