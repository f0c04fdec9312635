"""The "llvm" backend: whole graphs compiled natively give the interpreter's results."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops
from graphkit.codegen.backend import LLVMExecutable, LoweringError
from graphkit.compiler.executable import InterpreterExecutable, default_backend

RNG = np.random.default_rng(0)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def both(fn, *args):
    """(llvm executable, llvm outputs, interpreter outputs) of gk.jit(fn) on args."""
    native = gk.jit(fn, backend="llvm")
    got = gk.tree.flatten(native(*args))
    want = gk.tree.flatten(gk.jit(fn, backend="interpreter")(*args))
    exe = next(iter(native._cache.values())).executable
    assert isinstance(exe, LLVMExecutable)
    return exe, [np.asarray(g) for g in got], [np.asarray(w) for w in want]


def assert_native(exe):
    stats = exe.stats()
    assert stats["interpreted_kernels"] == [], stats
    assert stats["native_calls_per_run"] == 1


def test_llvm_is_the_default_backend():
    assert default_backend() == "llvm"


@pytest.fixture(scope="module")
def mlp():
    gk.utils.set_random_seed(1)
    model = gk.Sequential([layers.Dense(32, activation="relu"),
                           layers.Dense(10, activation="softmax")])
    model(np.zeros((1, 20), np.float32))
    return model


def test_mlp_forward_matches_the_interpreter(mlp):
    x = f32(64, 20)
    exe, got, want = both(lambda x: mlp(x), x)
    assert_native(exe)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
    assert "define void @\"entry0\"" in exe.as_text("llvm")
    # outputs are fresh arrays, not views of memory the next run reuses
    inputs = [x] + [w.numpy() for w in mlp.weights]
    assert len(inputs) == len(exe.graph.params)
    first, second = exe.run(inputs)[0], exe.run([x + 1.0] + inputs[1:])[0]
    assert not np.shares_memory(first, second)
    np.testing.assert_allclose(first, want[0], rtol=1e-5, atol=1e-6)


def test_softmax_and_layer_norm_match_the_interpreter():
    x = f32(33, 70)
    exe, got, want = both(lambda x: ops.softmax(x * 3.0, axis=-1), x)
    assert_native(exe)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-7)
    norm = layers.LayerNormalization()
    norm(np.zeros((1, 70), np.float32))
    exe, got, want = both(lambda x: norm(x), x)
    assert_native(exe)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=1e-5)


def test_dropout_is_bit_identical_to_eager():
    def draw(x, gen):
        return gk.random.dropout(x, 0.5, seed=gen)

    x = f32(37, 129)
    eager_gen, jit_gen = gk.random.SeedGenerator(7), gk.random.SeedGenerator(7)
    jdraw = gk.jit(draw, backend="llvm")
    for _ in range(2):
        np.testing.assert_array_equal(jdraw(x, jit_gen).numpy(), draw(x, eager_gen).numpy())
    np.testing.assert_array_equal(jit_gen.state.numpy(), eager_gen.state.numpy())


def test_adam_training_steps_match_the_interpreter():
    def build():
        gk.utils.set_random_seed(5)
        model = gk.Sequential([layers.Dense(16, activation="relu"), layers.Dense(3)])
        model(np.zeros((1, 8), np.float32))
        return model, gk.optimizers.Adam(learning_rate=0.01)

    def make_step(model, opt):
        loss_fn = gk.losses.SparseCategoricalCrossentropy(from_logits=True)

        def step(x, y):
            with gk.GradientTape() as tape:
                loss = loss_fn(y, model(x))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return loss
        return step

    (m1, o1), (m2, o2) = build(), build()
    native = gk.jit(make_step(m1, o1), backend="llvm")
    reference = gk.jit(make_step(m2, o2), backend="interpreter")
    for _ in range(3):
        x, y = f32(32, 8), RNG.integers(0, 3, 32).astype(np.int32)
        np.testing.assert_allclose(float(native(x, y)), float(reference(x, y)), rtol=1e-5)
    for a, b in zip(m1.weights + o1.variables, m2.weights + o2.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


@pytest.fixture()
def unlowered_copy():
    """An identity primitive no codegen lowers (category "opaque"): every real op has a
    native lowering now, so the fallback needs an op made for the test."""
    from graphkit.ops.primitive import PRIMITIVES, Aval, Primitive
    prim = Primitive("test_unlowered_copy", eager=lambda x: np.array(x, copy=True),
                     infer=lambda x: Aval(x.shape, x.dtype), category="opaque")
    yield prim
    del PRIMITIVES[prim.name]  # the parity sweep expects a case for every primitive


def test_an_unsupported_kernel_names_the_op_and_stage_or_runs_interpreted(unlowered_copy):
    from graphkit.ops.primitive import bind
    x = f32(5, 9)
    lowered = gk.jit(lambda x: bind(unlowered_copy, x * 2.0) + 1).lower(x)
    with pytest.raises(LoweringError, match=r"test_unlowered_copy.*stage: lowering"):
        LLVMExecutable(lowered.graph, fallback=False)
    exe = LLVMExecutable(lowered.graph, fallback=True)
    [k["kernel"] for k in exe.stats()["interpreted_kernels"]]
    assert len(exe.stats()["interpreted_kernels"]) == 1
    assert exe.stats()["native_kernels"] >= 1
    np.testing.assert_array_equal(exe.run([x])[0],
                                  InterpreterExecutable(lowered.graph).run([x])[0])


_WARM_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np, graphkit as gk
    from graphkit.codegen import pipeline
    x = np.linspace(-2, 2, 48 * 16, dtype=np.float32).reshape(48, 16)
    w = np.linspace(-1, 1, 16 * 8, dtype=np.float32).reshape(16, 8)
    f = gk.jit(lambda x, w: gk.ops.softmax(gk.ops.tanh(gk.ops.matmul(x, w)), axis=-1))
    out = f(x, w).numpy()
    exe = next(iter(f._cache.values())).executable
    # a warm process builds no IR: neither the graph's kernels nor the thread pool's
    lowered = exe._module is not None or "graphkit.codegen.lower_kernel" in sys.modules \
        or "graphkit.codegen.parallel_ir" in sys.modules
    print(pipeline.counters()["codegen"], pipeline.counters()["optimize"], int(lowered),
          float(np.abs(out).sum()))
""")


def test_a_warm_process_runs_no_llvm_codegen(tmp_path):
    """Warm: no LLVM optimize or codegen, and no kernel lowering or llvmlite module either
    (the object code and the layout to run it come from one cache entry)."""
    env = dict(os.environ, GRAPHKIT_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", _WARM_SCRIPT], env=env, check=True,
                           capture_output=True, text=True).stdout.split() for _ in range(2)]
    (cold_codegen, cold_opt, cold_lowered, cold_sum), \
        (warm_codegen, warm_opt, warm_lowered, warm_sum) = runs
    assert int(cold_codegen) >= 1 and int(cold_opt) >= 1 and cold_lowered == "1"
    assert (warm_codegen, warm_opt, warm_lowered) == ("0", "0", "0")
    assert cold_sum == warm_sum


def test_an_executable_loaded_from_the_cache_runs_and_shows_its_llvm(mlp):
    """A second executable of the same graph takes code and layout from the disk cache
    without lowering; its results, stats and LLVM text match the one that compiled."""
    from graphkit.codegen import pipeline
    x = f32(6, 20)
    lowered = gk.jit(lambda x: mlp(x)).lower(x)
    graph = lowered.graph
    inputs = [x] + [np.asarray(v.numpy()) for v in lowered.info.var_reads]
    first = LLVMExecutable(graph)
    before = pipeline.counters()
    second = LLVMExecutable(graph)
    assert pipeline.counters() == before
    assert second._module is None
    np.testing.assert_array_equal(second.run(inputs)[0], first.run(inputs)[0])
    assert second.stats() == first.stats()
    assert second.as_text("llvm") == first.as_text("llvm")


def test_llvm_loops_are_not_unrolled_again():
    """Every emitted loop carries a distinct loop ID that disables unrolling (vector bodies
    are not vectorized again): LLVM would otherwise copy the register-tiled bodies."""
    x = f32(16, 24)
    exe, got, want = both(lambda x: ops.matmul(x, ops.transpose(x)) + 1.0, x)
    text = exe.as_text("llvm")
    loop_ids = [line for line in text.splitlines() if line.startswith("!")
                and "distinct" in line]
    latches = [line for line in text.splitlines() if "!llvm.loop" in line]
    assert loop_ids and len(latches) == len(loop_ids)
    assert '!"llvm.loop.unroll.disable"' in text and '!"llvm.loop.vectorize.enable", i1 0' in text
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)


def test_reused_and_mutated_inputs_are_seen_on_every_call():
    """The executable skips re-reading the address of an input array it already points at;
    in-place changes to that array, converted (float64) inputs and new arrays must all show."""
    w = np.ones((4, 3), np.float32)
    f = gk.jit(lambda x, k: ops.matmul(x, k), backend="llvm")
    x = f32(2, 4)
    np.testing.assert_allclose(np.asarray(f(x, w)), x @ w, rtol=1e-5)
    w *= 2.0                                    # same object, new contents
    np.testing.assert_allclose(np.asarray(f(x, w)), x @ w, rtol=1e-5)
    x64 = x.astype(np.float64)                  # converted on every call
    np.testing.assert_allclose(np.asarray(f(x64, w)), x @ w, rtol=1e-5)
    x64 += 1.0
    np.testing.assert_allclose(np.asarray(f(x64, w)), (x + 1) @ w, rtol=1e-5)
    y = f32(2, 4)                               # another array, same signature
    np.testing.assert_allclose(np.asarray(f(y, w)), y @ w, rtol=1e-5)
    y5 = f32(5, 4)                              # another shape: a new trace
    np.testing.assert_allclose(np.asarray(f(y5, w)), y5 @ w, rtol=1e-5)
    assert f.cache_info()["traces"] == 3        # f32, f64 and (5, 4) inputs
