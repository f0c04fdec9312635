"""Check every op's output for NaN and Inf while debugging.

With the check on, each eager op looks at its floating-point outputs and raises a
FloatingPointError that names the first op that produced a NaN or an Inf and the layer path
it ran under (for example `op 'log' at 'model/dense_1'`). The check runs on eager
execution: turn it on while running the model eagerly (`run_eagerly=True`, or
`gk.config.set_jit_enabled(False)`) to find the op. It costs one pass over every output,
so it is off by default.
"""
import contextlib

from graphkit import config


def enable_check_numerics():
    """Make every eager op raise FloatingPointError when it produces a NaN or an Inf."""
    config.set_check_numerics(True)


def disable_check_numerics():
    config.set_check_numerics(False)


def check_numerics_enabled():
    return config.check_numerics_enabled()


@contextlib.contextmanager
def numerics_checked():
    """`with numerics_checked():` turns the check on inside the block only."""
    previous = config.check_numerics_enabled()
    config.set_check_numerics(True)
    try:
        yield
    finally:
        config.set_check_numerics(previous)
