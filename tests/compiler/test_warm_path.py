"""What a warm process's first compiled step pays for: equal scalars are traced into one
constant (with the same results and gradients), the compiler is imported with the cyclic
collector paused, and modules only retraces and `stats()` need are not imported."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np

import graphkit as gk
from graphkit import ir, ops

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RNG = np.random.default_rng(5)


def _constants(graph):
    return [n.value for n in graph.nodes if n.op == "constant"]


def test_equal_scalars_share_one_constant_and_distinct_ones_do_not():
    x = RNG.standard_normal((4, 3)).astype(np.float32)

    def f(x):
        a = x * 2.0 + x * 2.0                      # two eager 2.0s: one constant
        b = x * ops.convert_to_tensor(2.0, "float64")   # another dtype: its own constant
        return a - x * 0.0, b + x * -0.0           # 0.0 and -0.0: two constants

    values = _constants(ir.trace(f, x))
    assert sorted((v.dtype.name, float(v), bool(np.signbit(v))) for v in values) == [
        ("float32", 0.0, False), ("float32", -0.0, True), ("float32", 2.0, False),
        ("float64", 2.0, False)]
    got = gk.jit(f)(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(got[0].numpy(), 4.0 * x64, rtol=1e-6)
    np.testing.assert_allclose(got[1].numpy(), 2.0 * x64, rtol=1e-6)


def test_values_over_one_shared_constant_keep_their_own_gradients():
    # v and w are assigned equal scalars inside the trace: one constant node, but
    # `v.value` and `w.value` are two values to a tape, with gradients of their own.
    v, w = gk.Variable(1.0, name="v"), gk.Variable(1.0, name="w")

    def f(x):
        v.assign(3.0)
        w.assign(3.0)
        with gk.GradientTape() as tape:
            a, b = v.value, w.value
            tape.watch(a)
            tape.watch(b)
            y = ops.sum(x * a) + ops.sum(x * x * b)
        return tape.gradient(y, [a, b])

    x = RNG.standard_normal(5).astype(np.float32)
    ga, gb = gk.jit(f)(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(float(ga.numpy()), x64.sum(), rtol=1e-5)
    np.testing.assert_allclose(float(gb.numpy()), (x64 * x64).sum(), rtol=1e-5)
    assert float(v.numpy()) == float(w.numpy()) == 3.0


FIRST_STEP = textwrap.dedent("""
    import gc, json, sys
    import numpy as np
    import graphkit as gk
    from graphkit import layers
    from graphkit.trainers import trainer
    def importing():
        frame = sys._getframe()
        while frame is not None:
            if frame.f_code.co_filename.startswith("<frozen importlib"):
                return True
            frame = frame.f_back
        return False

    collections = []   # one flag per collection: did it start while a module was imported?
    gc.callbacks.append(lambda phase, info: collections.append(importing())
                        if phase == "start" else None)
    gc.set_threshold(1)        # any allocation may collect, unless the collector is paused
    jit, reason = trainer.compiler_status()
    during_import = sum(collections)
    enabled = gc.isenabled()
    gc.set_threshold(700, 10, 10)
    model = gk.models.Sequential([layers.Input((8,)), layers.Dense(4)])
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    model.train_on_batch(np.ones((2, 8), "float32"), np.ones((2, 4), "float32"))
    print(json.dumps({"reason": reason, "during_import": during_import, "enabled": enabled,
                      "modules": sorted(m for m in sys.modules if m.startswith("graphkit"))}))
""")


def test_first_compiled_step_imports_the_compiler_without_collecting_and_no_extras(tmp_path):
    env = dict(os.environ, GRAPHKIT_CACHE_DIR=str(tmp_path), PYTHONPATH=REPO,
               GRAPHKIT_BACKEND="interpreter")
    r = subprocess.run([sys.executable, "-c", FIRST_STEP], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["reason"] is None and out["enabled"] and out["during_import"] == 0
    assert "graphkit.compiler.jit" in out["modules"]
    # retrace explanations and cost statistics are imported on use only
    assert not {"graphkit.compiler.explain", "graphkit.ir.cost"} & set(out["modules"])
