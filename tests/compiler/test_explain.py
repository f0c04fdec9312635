"""Each cause of a retrace produces its own message on the "graphkit.jit" logger."""
import gc
import logging

import numpy as np
import pytest

import graphkit as gk
from graphkit import config


@pytest.fixture
def jit_log(caplog):
    caplog.set_level(logging.INFO, logger="graphkit.jit")
    return caplog


def messages(caplog):
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "graphkit.jit"]


def z(*shape, dtype=np.float32):
    return np.zeros(shape, dtype)


def test_first_trace_is_silent_and_a_shape_change_is_explained(jit_log):
    def f(x):
        return x * 2.0

    jf = gk.jit(f)
    jf(z(32, 10))
    jf(z(32, 10))
    assert messages(jit_log) == []
    jf(z(16, 10))
    assert messages(jit_log) == [
        ("INFO", "f: traced again (trace #2) because args[0]: seen f32[32,10], now f32[16,10]")]
    assert jf.cache_info()["reasons"] == ["args[0]: seen f32[32,10], now f32[16,10]"]


@pytest.mark.parametrize("first, second, reason", [
    ((z(3),), (z(3, dtype=np.float64),), "args[0]: seen f32[3], now f64[3]"),
    ((z(3), 2.0), (z(3), 3.0), "args[1]: seen static 2.0, now static 3.0"),
    ((z(3), [z(2), z(2)]), (z(3), [z(2), z(2), z(2)]),
     "args[1]: seen 2 items in a list, now 3"),
    ((z(3),), (z(3), z(3)), "args: seen 1 positional arguments, now 2"),
    ((z(3), {"a": z(1)}), (z(3), {"a": z(1), "b": z(1)}),
     "args[1]: seen keys ['a'], now keys ['a', 'b']"),
    ((z(3), {"a": z(1)}), (z(3), {"a": z(2)}), "args[1]['a']: seen f32[1], now f32[2]"),
    ((z(3), z(1)), (z(3), None), "args[1]: seen f32[1], now static None"),
])
def test_argument_changes(jit_log, first, second, reason):
    def g(x, *rest):
        return x + 1.0

    jg = gk.jit(g)
    jg(*first)
    jg(*second)
    assert messages(jit_log) == [("INFO", f"g: traced again (trace #2) because {reason}")]


def test_keyword_and_static_argument_changes(jit_log):
    def h(x, training=False, scale=None):
        return x * 2.0 if training else x

    jh = gk.jit(h, static_argnames="training")
    jh(z(2), training=True)
    jh(z(2), training=False)
    jh(z(2), training=False, scale=z(1))
    got = [m for _, m in messages(jit_log)]
    assert got == [
        "h: traced again (trace #2) because static argument 'training': seen True, now False",
        "h: traced again (trace #3) because kwargs: seen keys [], now keys ['scale']"]


def test_config_change(jit_log):
    jf = gk.jit(lambda x: x + 1.0)
    jf(z(2))
    config.set_floatx("float64")
    try:
        jf(z(2))
    finally:
        config.set_floatx("float32")
    assert messages(jit_log)[0][1].endswith("because config floatx: seen float32, now float64")


def test_a_vanished_variable_makes_the_entry_stale(jit_log):
    holder = {"v": gk.Variable(np.ones(2, np.float32), name="weights")}

    def f(x):
        return x * holder["v"]

    jf = gk.jit(f)
    jf(z(2))
    holder["v"] = gk.Variable(np.ones(2, np.float32), name="weights_2")
    gc.collect()
    jf(z(2))
    assert messages(jit_log) == [
        ("INFO", "f: traced again (trace #2) because variable 'weights' touched by the cached "
                 "trace no longer exists")]


def test_rewrapping_the_same_function_is_pointed_out(jit_log):
    def body(x):
        return x - 1.0

    for _ in range(2):
        gk.jit(body)(z(2))
    (level, msg), = messages(jit_log)
    assert "gk.jit was applied again to body" in msg and "apply gk.jit once" in msg


def test_warning_after_eight_traces(jit_log):
    def grow(x):
        return x + 1.0

    jf = gk.jit(grow)
    for n in range(1, 11):
        jf(z(n))
    levels = [lvl for lvl, _ in messages(jit_log)]
    assert levels == ["INFO"] * 7 + ["WARNING"] * 2  # traces #2..#8 INFO, #9 and #10 WARNING
    info = jf.cache_info()
    assert info["traces"] == 10 and info["misses"] == 10 and len(info["reasons"]) == 9


def test_a_retrace_after_a_failed_trace_names_what_changed():
    def step(x, flag):
        if flag:
            raise RuntimeError("user bug")
        return x * 2.0

    jf = gk.jit(step)
    x = np.ones(3, np.float32)
    with pytest.raises(RuntimeError):
        jf(x, True)
    jf(x, False)
    assert jf.cache_info()["reasons"] == ["args[1]: seen static True, now static False"]
