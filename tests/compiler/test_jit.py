"""gk.jit: results and variable updates exactly as eager, the signature cache, static
arguments, the staged API (lower/as_text/stats/compile), dumps, and when it runs eagerly."""
import gc
import os

import numpy as np
import pytest

import graphkit as gk
from graphkit import config, layers, ops
from graphkit.compiler.cache_key import StaticArgumentError

RNG = np.random.default_rng(11)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.fixture(params=["interpreter", None], ids=["interpreter", "default_backend"])
def backend(request):
    return request.param


def test_results_match_eager_and_the_cache_hits(backend):
    def f(x, y):
        return {"sum": ops.sum(x * y, axis=1), "prod": x * y}, None

    jf = gk.jit(f, backend=backend)
    x, y = f32(4, 3), f32(3)
    out, none = jf(x, y)
    want, _ = f(gk.ops.convert_to_tensor(x), gk.ops.convert_to_tensor(y))
    assert none is None and set(out) == {"sum", "prod"}
    np.testing.assert_allclose(out["sum"].numpy(), want["sum"].numpy(), rtol=1e-6)
    jf(f32(4, 3), f32(3))
    info = jf.cache_info()
    assert (info["traces"], info["hits"], info["misses"], info["entries"]) == (1, 1, 1, 1)


def test_variable_updates_are_visible_exactly_as_in_eager(backend):
    def make():
        return gk.Variable(np.arange(3, dtype=np.float32), name="acc"), \
            gk.Variable(np.int64(0), name="count", trainable=False)

    def step(acc, count, x):
        acc.assign(acc * 0.5 + ops.sum(x, axis=0))
        count.assign_add(1)
        return acc.value * 2.0

    eager_acc, eager_count = make()
    jit_acc, jit_count = make()
    jstep = gk.jit(step, backend=backend)
    for _ in range(3):
        x = f32(5, 3)
        want = step(eager_acc, eager_count, gk.ops.convert_to_tensor(x))
        got = jstep(jit_acc, jit_count, x)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
        np.testing.assert_allclose(jit_acc.numpy(), eager_acc.numpy(), rtol=1e-6)
        assert jit_count.numpy() == eager_count.numpy()
    assert jstep.cache_info()["traces"] == 1 and jit_count.numpy().dtype == np.int64


def test_a_training_step_matches_eager_step_for_step(backend):
    def build():
        gk.utils.set_random_seed(5)
        model = gk.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3)])
        model(np.zeros((1, 4), np.float32))
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

    eager_model, eager_opt = build()
    jit_model, jit_opt = build()
    eager_step = make_step(eager_model, eager_opt)
    jit_step = gk.jit(make_step(jit_model, jit_opt), backend=backend)
    for _ in range(3):
        x, y = f32(16, 4), RNG.integers(0, 3, 16).astype(np.int32)
        np.testing.assert_allclose(float(jit_step(x, y)), float(eager_step(x, y)), rtol=1e-5)
    for a, b in zip(jit_model.weights + jit_opt.variables,
                    eager_model.weights + eager_opt.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    assert jit_step.cache_info()["traces"] == 1


def test_random_ops_give_the_eager_numbers_and_advance_the_seed(backend):
    def draw(x, gen):
        return gk.random.dropout(x, 0.5, seed=gen) + gk.random.normal(x.shape, seed=gen)

    eager_gen, jit_gen = gk.random.SeedGenerator(3), gk.random.SeedGenerator(3)
    jdraw = gk.jit(draw, backend=backend)
    x = f32(4, 4)
    for _ in range(2):
        got, want = jdraw(x, jit_gen).numpy(), draw(x, eager_gen).numpy()
        if backend == "interpreter":
            np.testing.assert_array_equal(got, want)
        else:  # native log/cos (Box-Muller) match NumPy's to a few ulp, not bit for bit
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(jit_gen.state.numpy(), eager_gen.state.numpy())


def test_static_arguments_by_name_and_number():
    calls = []

    def f(x, n, training=False):
        calls.append((n, training))
        return x * n if training else x - n

    jf = gk.jit(f, static_argnames=("training",), static_argnums=(1,))
    x = f32(3)
    np.testing.assert_allclose(jf(x, 2, training=True).numpy(), x * 2, rtol=1e-6)
    np.testing.assert_allclose(jf(x, 2, training=False).numpy(), x - 2, rtol=1e-6)
    jf(x, 3, training=False)
    jf(x, 3, training=False)
    assert calls == [(2, True), (2, False), (3, False)]
    with pytest.raises(StaticArgumentError, match="static argument 'training' must be hashable"):
        jf(x, 2, training=[1])


def test_disabled_jit_runs_eagerly():
    jf = gk.jit(lambda x: ops.add(x, 1.0))
    config.set_jit_enabled(False)
    try:
        out = jf(f32(2))
    finally:
        config.set_jit_enabled(True)
    assert isinstance(out, gk.Tensor) and jf.cache_info()["traces"] == 0


def test_check_numerics_runs_eagerly_and_names_the_op_that_made_a_nan():
    jf = gk.jit(lambda x: ops.log(x) * 2.0)
    with gk.debugging.numerics_checked(), np.errstate(invalid="ignore"):
        with pytest.raises(FloatingPointError, match="log"):
            jf(np.array([-1.0, 2.0], np.float32))
    assert jf.cache_info()["traces"] == 0
    with np.errstate(invalid="ignore"):  # check off: compiled
        assert np.isnan(jf(np.array([-1.0], np.float32)).numpy()[0])


def test_a_recording_tape_sees_through_a_jitted_function():
    jf = gk.jit(lambda x: ops.sum(ops.exp(x)))
    x = gk.ops.convert_to_tensor(f32(3))
    with gk.GradientTape() as tape:
        tape.watch(x)
        y = jf(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), np.exp(x.numpy()), rtol=1e-6)
    assert jf.cache_info()["traces"] == 0


def test_a_jitted_function_called_in_a_trace_is_inlined():
    inner = gk.jit(lambda x: ops.exp(x))
    outer = gk.jit(lambda x: inner(x) + 1.0)
    lowered = outer.lower(f32(3))
    assert "exp" in lowered.as_text("traced") and inner.cache_info()["traces"] == 0


def test_lower_stages_stats_and_compile(backend):
    model = gk.Sequential([layers.Dense(16, activation="relu"), layers.Dense(4, activation="relu")])
    x = f32(8, 5)
    jf = gk.jit(lambda x: model(x), backend=backend)
    lowered = jf.lower(x)
    traced, optimized, kernels = (lowered.as_text(s) for s in ("traced", "optimized", "kernels"))
    assert "matmul" in traced and " = kernel " not in optimized
    assert kernels.count(" = kernel ") == 2 and "    body(" in kernels
    stats = lowered.stats()
    assert set(stats) == {"passes", "kernels", "flops", "bytes", "per_kernel", "memory"}
    # The two hidden activations (8x16 and 8x4 float32) are the only intermediates; the
    # final output is returned, so only the 8x16 one is planned into the arena.
    assert stats["memory"]["intermediate_bytes"] == 8 * 16 * 4
    assert 0 < stats["memory"]["arena_bytes"] <= 8 * 16 * 4 + 64
    assert [p["name"] for p in stats["passes"]][-2:] == ["fusion", "memory_plan"]
    assert all(set(p) == {"name", "ops_before", "ops_after", "seconds"} for p in stats["passes"])
    assert stats["kernels"] == 2 and isinstance(stats["flops"], int)
    assert stats["flops"] == 2 * 8 * 16 * 5 + 2 * 8 * 4 * 16 + 2 * (8 * 16 + 8 * 4)
    assert [set(k) for k in stats["per_kernel"]] == [{"name", "ops", "flops", "bytes"}] * 2
    assert sum(k["bytes"] for k in stats["per_kernel"]) == stats["bytes"]
    compiled = lowered.compile()
    np.testing.assert_allclose(compiled(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match=r"lowered for other arguments: args\[0\]: seen "
                                        r"f32\[8,5\], now f32\[2,5\]"):
        compiled(f32(2, 5))
    with pytest.raises(ValueError, match="Unknown stage: 'kernel'"):
        lowered.as_text("kernel")


def test_llvm_text_needs_the_llvm_backend():
    lowered = gk.jit(lambda x: x * 2.0, backend="interpreter").lower(f32(3))
    with pytest.raises(ValueError, match="interpreter backend, which produces no LLVM IR"):
        lowered.as_text("llvm")


def test_every_compilation_is_dumped(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHKIT_DUMP_IR", str(tmp_path))

    def scale(x):
        return x * 3.0

    jf = gk.jit(scale)
    jf(f32(3))
    jf(f32(4))
    folders = sorted(os.listdir(tmp_path))
    assert folders == ["scale.0", "scale.1"]
    files = sorted(os.listdir(tmp_path / "scale.0"))
    assert files[0] == "00_traced.gkir" and files[-1] == "index.txt"
    assert "07_memory_plan.gkir" in files


def test_decorating_a_method_binds_the_instance():
    class Scaler:
        def __init__(self, k):
            self.k = k

        @gk.jit
        def __call__(self, x):
            return x * self.k

    np.testing.assert_allclose(Scaler(2.0)(np.ones(2, np.float32)).numpy(), [2.0, 2.0])


def test_a_backend_failure_is_a_compile_error_naming_graph_and_backend(monkeypatch):
    from graphkit.compiler import CompileError, executable

    def broken(graph):
        raise RuntimeError("kernel k0 (exp): no lowering")
    monkeypatch.setitem(executable._BACKENDS, "broken_for_test", broken)
    jf = gk.jit(lambda x: ops.exp(x), backend="broken_for_test")
    with pytest.raises(CompileError, match=r"compiling @lambda with the 'broken_for_test' "
                                           r"backend failed: RuntimeError: kernel k0"):
        jf(f32(2))
    with pytest.raises(ValueError, match="Unknown backend: 'nope'"):
        gk.jit(lambda x: x, backend="nope")(f32(2))


# -- the per-call fast path (positional arrays, a cached entry) ----------------------------------

def test_fast_path_results_are_fresh_and_never_change_later(backend):
    """Small outputs come from a ring of buffers: each result must stay as returned, through
    many later calls (more than one ring chunk), whether it is a Tensor or a 0-d value."""
    jf = gk.jit(lambda x: (x * 2.0, ops.sum(x)), backend=backend)
    xs = [f32(1, 3) for _ in range(3000)]
    kept = [jf(x) for x in xs]
    for x, (doubled, total) in zip(xs, kept):
        np.testing.assert_allclose(doubled.numpy(), x * 2.0, rtol=1e-6)
        assert total.numpy().shape == () and isinstance(total.numpy(), np.ndarray)
        np.testing.assert_allclose(total.numpy(), x.astype(np.float64).sum(), atol=1e-6)
    info = jf.cache_info()
    assert info["traces"] == 1 and info["hits"] == len(xs) - 1


def test_fast_path_sees_new_weights_and_in_place_input_changes(backend):
    model = gk.Sequential([layers.Dense(4, activation="relu"), layers.Dense(1)])
    x = f32(1, 3)
    model(x)
    jf = gk.jit(lambda x: model(x), backend=backend)
    first = jf(x).numpy().copy()
    for w in model.weights:                         # a new value: a new array to bind
        w.assign(w.numpy() * 0.5 + 0.25)
    np.testing.assert_allclose(jf(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    x[...] = f32(1, 3)                              # same array object, new contents
    got = jf(gk.ops.convert_to_tensor(x))           # and a Tensor argument
    np.testing.assert_allclose(got.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(first, got.numpy()) and jf.cache_info()["traces"] == 1


def test_fast_path_converts_non_contiguous_arrays(backend):
    jf = gk.jit(lambda x: x + 1.0, backend=backend)
    x = f32(4, 6)
    jf(np.ascontiguousarray(x[:, ::2]))
    np.testing.assert_allclose(jf(x[:, ::2]).numpy(), x[:, ::2] + 1.0, rtol=1e-6)
    assert jf.cache_info()["traces"] == 1


def test_repeated_argument_object_sees_every_change(backend):
    """A call with the same argument object as the last one repeats the native run without
    reading its inputs again: weight assigns, in-place input writes, and calls with other
    arrays in between must all still show."""
    model = gk.Sequential([layers.Dense(5, activation="relu"), layers.Dense(2)])
    x, y = f32(2, 3), f32(2, 3)
    model(x)
    jf = gk.jit(lambda x: model(x), backend=backend)
    first = jf(x)
    again = jf(x)
    np.testing.assert_array_equal(again.numpy(), first.numpy())
    assert again.numpy() is not first.numpy()      # a fresh output buffer per call
    model.layers[0].kernel.assign(model.layers[0].kernel.numpy() * -1.0)
    jf(x)
    np.testing.assert_allclose(jf(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    x[...] = f32(2, 3)
    np.testing.assert_allclose(jf(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jf(y).numpy(), model(y).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jf(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    # Another caller feeding the same executable directly (as the trainer's bound step does)
    executable = jf.entry_for(x).executable
    weights = [np.array(w.numpy()) for w in model.weights]
    executable.run([y] + weights)
    np.testing.assert_allclose(jf(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert jf.cache_info()["traces"] == 1


def test_repeated_non_contiguous_argument_is_converted_each_time(backend):
    """A non-contiguous argument runs on a copy that lives for one call only: calling again
    with the same view must copy again (here the view's contents change in between)."""
    jf = gk.jit(lambda x: x * 3.0, backend=backend)
    base = f32(4, 6)
    view = base[:, ::2]
    jf(view)
    jf(view)
    base[...] = f32(4, 6)
    np.testing.assert_allclose(jf(view).numpy(), base[:, ::2] * 3.0, rtol=1e-6)
    np.testing.assert_allclose(jf(view).numpy(), base[:, ::2] * 3.0, rtol=1e-6)


def test_fast_path_respects_eager_switches_after_caching():
    jf = gk.jit(lambda x: ops.exp(x))
    x = f32(3)
    jf(x)
    jf(x)                                            # cached on the fast path now
    config.set_jit_enabled(False)
    try:
        calls = []
        spy = gk.jit(lambda x: calls.append(1) or ops.exp(x))
        spy(x)
        spy(x)
        assert len(calls) == 2                        # disabled: Python runs each time
    finally:
        config.set_jit_enabled(True)
    xt = gk.ops.convert_to_tensor(x)
    with gk.GradientTape() as tape:
        tape.watch(xt)
        y = ops.sum(jf(xt))
    np.testing.assert_allclose(tape.gradient(y, xt).numpy(), np.exp(x), rtol=1e-6)
    assert jf.cache_info()["traces"] == 1


def test_fast_path_entry_is_stale_once_its_variables_are_gone(caplog):
    def build():
        m = gk.Sequential([layers.Dense(2)])
        m(np.zeros((1, 3), np.float32))
        return m

    holder = {"model": build()}
    jf = gk.jit(lambda x: holder["model"](x))
    x = f32(1, 3)
    jf(x)
    jf(x)
    holder["model"] = build()                       # the old model's variables die
    import gc
    gc.collect()
    with caplog.at_level("INFO", logger="graphkit.jit"):
        got = jf(x)
    np.testing.assert_allclose(got.numpy(), holder["model"](x).numpy(), rtol=1e-5, atol=1e-6)
    assert jf.cache_info()["traces"] == 2 and "no longer exists" in caplog.text


def test_variable_writes_next_to_static_outputs(backend):
    """Static (Python) output leaves take no graph output: the variables' new values are
    still the right outputs."""
    def step(v, x):
        v.assign(v + x)
        return {"label": "step", "total": ops.sum(v.value), "none": None}

    v = gk.Variable(np.zeros(3, np.float32), name="acc")
    jstep = gk.jit(step, backend=backend)
    for k in range(1, 4):
        out = jstep(v, np.ones(3, np.float32))
        assert out["label"] == "step" and out["none"] is None
        np.testing.assert_allclose(v.numpy(), [k, k, k])
        np.testing.assert_allclose(out["total"].numpy(), 3.0 * k)


@pytest.mark.parametrize("x_dtype, scalar", [("float32", np.float64(2.0)),
                                             ("float16", np.float32(2.0)),
                                             ("int32", np.int64(3))])
def test_jit_numpy_scalar_argument_is_weak_as_in_eager(x_dtype, scalar):
    x = ops.convert_to_tensor(np.array([1, 2], dtype=x_dtype))

    def fn(a, s):
        return a * s
    eager = fn(x, scalar)
    compiled = np.asarray(gk.jit(fn)(x, scalar))
    assert eager.dtype == x_dtype
    assert compiled.dtype == np.dtype(x_dtype)
    np.testing.assert_array_equal(compiled, eager.numpy())


def test_an_entry_keyed_by_a_freed_objects_id_is_not_reused():
    class Cfg:
        def __init__(self, k):
            self.k = k

    jf = gk.jit(lambda cfg, x: x * cfg.k)
    x = np.ones(3, np.float32)
    first = Cfg(1.0)
    jf(first, x)
    old_id = id(first)
    del first
    gc.collect()
    keep = []   # allocate until CPython hands the freed address to a new Cfg
    for _ in range(10000):
        c = Cfg(5.0)
        if id(c) == old_id:
            break
        keep.append(c)
    assert id(c) == old_id
    np.testing.assert_allclose(jf(c, x).numpy(), x * 5.0)


def test_static_values_equal_in_python_but_of_other_types_trace_again():
    def f(x, n):
        return ops.cast(x, "int32") * n, n

    jf = gk.jit(f, static_argnames=("n",))
    x = np.ones(3, np.float32)
    jf(x, n=2)
    out, n = jf(x, n=2.0)
    assert out.dtype == f(x, 2.0)[0].dtype == "float32"
    assert type(n) is float
    assert type(jf(x, n=(True,))[1][0]) is bool and type(jf(x, n=(1,))[1][0]) is int
    assert jf.cache_info()["traces"] == 4


def test_the_dump_holds_the_llvm_ir_too(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHKIT_DUMP_IR", str(tmp_path))
    jf = gk.jit(lambda x: x * 3.0, backend="llvm")
    jf(np.ones(3, np.float32))
    folder = tmp_path / os.listdir(tmp_path)[0]
    assert "08_llvm.ll" in os.listdir(folder)
    assert jf.lower(np.ones(3, np.float32)).as_text("llvm") == (folder / "08_llvm.ll").read_text()


def test_masks_of_arguments_and_results_are_kept_as_in_eager(backend=None):
    tokens = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    emb = layers.Embedding(5, 4, mask_zero=True)
    pool = layers.GlobalAveragePooling1D()
    masked = emb(tokens)
    jf = gk.jit(lambda t: pool(t), backend=backend)
    np.testing.assert_allclose(jf(masked).numpy(), pool(masked).numpy(), rtol=1e-6)
    unmasked = gk.ops.convert_to_tensor(masked.numpy())
    np.testing.assert_allclose(jf(unmasked).numpy(), pool(unmasked).numpy(), rtol=1e-6)
    out = gk.jit(lambda t: emb(t), backend=backend)(tokens)
    np.testing.assert_array_equal(out._keras_mask.numpy(), tokens != 0)


def test_static_argnames_that_the_function_does_not_take_are_named():
    def scale(x, factor):
        return x * factor
    with pytest.raises(ValueError, match="'factr', which scale does not take.*'factor'"):
        gk.jit(scale, static_argnames=("factr",))
    gk.jit(lambda x, **kw: x, static_argnames=("anything",))  # **kwargs takes any name


def test_signed_zeros_and_nan_survive_the_passes_as_in_eager(backend):
    """x + 0.0 and x - -0.0 are +0.0 for x = -0.0 (only x + -0.0 and x - 0.0 are x), and
    maximum(0.0, x) differs from maximum(x, 0.0) on a signed-zero tie: neither may be
    rewritten away."""
    def f(x):
        return (x + 0.0, 0.0 + x, x - 0.0, x - (-0.0), x + (-0.0), x * 1.0,
                ops.maximum(0.0, x), ops.minimum(0.0, x), ops.relu(x), ops.maximum(x, 0.0))

    x = np.array([-0.0, 0.0, 1.5, -2.0, -np.inf, np.nan], np.float32)
    for got, want in zip(gk.jit(f, backend=backend)(x), f(x)):
        got, want = np.asarray(got), np.asarray(want)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
