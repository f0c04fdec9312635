"""Parallel compilation: modules compiled on several threads (each in an LLVM context of its
own, without llvmlite's lock) give the object code of a serial build, in order; a graph
lowered into several chunks runs like one lowered into a single module, cold and warm."""
import numpy as np
import pytest
from llvmlite import ir

import graphkit as gk
from graphkit import layers, ops
from graphkit.codegen import backend, chunks, parallel_compile, pipeline
from graphkit.codegen.build import load_unit
from graphkit.codegen.elementwise import Operand, emit_elementwise
from graphkit.codegen import expr as ex

RNG = np.random.default_rng(7)


def _kernel_module(tag):
    m = ir.Module(name=f"pc_{tag}")
    x = ex.input(0, "float32")
    y = ex.apply("exp", ex.apply("multiply", x, ex.constant(float(tag), "float32")))
    emit_elementwise(m, f"k{tag}", [Operand((256,), "float32")], [y], (256,))
    return m


def test_threads_reads_the_environment(monkeypatch):
    monkeypatch.setenv("GRAPHKIT_COMPILE_THREADS", "1")
    assert parallel_compile.threads() == 1
    monkeypatch.setenv("GRAPHKIT_COMPILE_THREADS", "two")
    with pytest.raises(ValueError, match="GRAPHKIT_COMPILE_THREADS"):
        parallel_compile.threads()


def test_llvmlite_calls_can_bypass_its_lock():
    """Guards the assumption parallel builds rest on; if llvmlite changes, builds still work
    (serially), but this says why they got slower."""
    assert all(parallel_compile._unlocked(n) is not None for n in parallel_compile._HEAVY)


def test_a_parallel_session_gives_the_serial_objects_in_order():
    texts = [str(_kernel_module(t)) for t in range(1, 7)]
    serial = parallel_compile.CompileSession("same", n_threads=1)
    for t in texts:
        serial.submit(t)
    expected = serial.finish()
    before = pipeline.counters()
    with parallel_compile.CompileSession("same", n_threads=3) as session:
        for t in texts:
            session.submit(t)
        got = session.finish()
    assert got == expected      # byte for byte, whichever thread compiled which module
    assert len(set(got)) == len(texts)
    after = pipeline.counters()
    assert after["optimize"] - before["optimize"] == len(texts)
    assert after["codegen"] - before["codegen"] == len(texts)


def test_a_worker_error_names_the_module():
    with parallel_compile.CompileSession("broken", n_threads=2) as session:
        session.submit(str(_kernel_module(1)))
        session.submit("define void @f() {\n  ret i32 0\n}\n")
        with pytest.raises(pipeline.CodegenError, match="broken_1"):
            session.finish()


def test_leaving_a_session_early_stops_its_workers():
    session = parallel_compile.CompileSession("early", n_threads=2)
    with pytest.raises(KeyError):
        with session:
            session.submit(str(_kernel_module(2)))
            raise KeyError("lowering failed")
    assert session._workers == []


def _train_step_exe():
    gk.utils.set_random_seed(3)
    model = gk.Sequential([layers.Dense(48, activation="relu"), layers.Dense(5)])
    model(np.zeros((1, 12), np.float32))
    x = RNG.standard_normal((32, 12)).astype(np.float32)

    def f(x):
        h = model(x)
        return ops.mean(ops.softmax(h, axis=-1) * h), ops.matmul(ops.transpose(x), x)
    native = gk.jit(f, backend="llvm")
    got = [np.asarray(v) for v in gk.tree.flatten(native(x))]
    want = [np.asarray(v) for v in gk.tree.flatten(gk.jit(f, backend="interpreter")(x))]
    return next(iter(native._cache.values())).executable, got, want


@pytest.mark.usefixtures("fresh_cache")
def test_a_graph_in_several_chunks_matches_the_interpreter_cold_and_warm(monkeypatch):
    monkeypatch.setattr(chunks, "CHUNK_INSTRUCTIONS", 50)   # one chunk per kernel or so
    exe, got, want = _train_step_exe()
    assert exe.stats()["interpreted_kernels"] == []
    assert exe.stats()["native_calls_per_run"] == 1
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    assert len(exe._module) >= 3
    _, objects = load_unit(exe._cache_source())
    assert len(objects) == len(exe._module)
    # warm: the unit's objects are linked as one library, no LLVM work, same results
    before = pipeline.counters()
    warm = backend.LLVMExecutable(exe.graph)
    assert pipeline.counters() == before
    inputs = [np.asarray(p) for p in exe._bound_inputs]
    for a, b in zip(warm.run(inputs), exe.run(inputs)):
        np.testing.assert_array_equal(a, b)
    assert warm.as_text("llvm") == exe.as_text("llvm")


# -- chunks: which level a chunk's kernels get --------------------------------------------

def _loop_function(vector_body, llvm_unroll=False, call=False):
    """`void f(ptr p)` with one loop over p: a vector or a scalar body, or a call."""
    from graphkit.codegen import loops
    from graphkit.codegen.llvm_types import F32, I64, PTR, VOID, vector_of
    m = ir.Module(name="loops")
    callee = ir.Function(m, ir.FunctionType(VOID, [PTR]), "callee")
    fn = ir.Function(m, ir.FunctionType(VOID, [PTR]), "f")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ty = vector_of(F32, 8) if vector_body else F32
    with loops.for_range(b, I64(0), I64(64), name="i", llvm_unroll=llvm_unroll) as i:
        if call:
            b.call(callee, [fn.args[0]])
        else:
            p = b.gep(fn.args[0], [i], source_etype=ty)
            b.store(b.fadd(b.load(p, typ=ty), b.load(p, typ=ty)), p)
    b.ret_void()
    return fn


def test_only_hand_vectorized_loops_skip_the_vectorizers():
    assert chunks.vector_loops_only(_loop_function(vector_body=True))
    assert not chunks.vector_loops_only(_loop_function(vector_body=False))
    assert not chunks.vector_loops_only(_loop_function(vector_body=True, llvm_unroll=True))
    # a scalar loop around a call (a microkernel) gives the loop vectorizer nothing
    assert chunks.vector_loops_only(_loop_function(vector_body=False, call=True))


def test_chunks_close_when_full_and_keep_their_kernels_callable():
    submitted = []
    c = chunks.Chunks("gk_t", submit=lambda m, level: submitted.append((m, level)), limit=1)
    for tag, name in ((1, "k1"), (2, "k2")):
        before = c.mark()
        emit_elementwise(c.module, name, [Operand((64,), "float32")],
                         [ex.apply("exp", ex.input(0, "float32"))], (64,))
        c.added(before, [name])
    assert [level for _, level in submitted] == [chunks.VECTOR, chunks.VECTOR]
    assert all(m.get_global(k).linkage == "" for (m, _), k in zip(submitted, ("k1", "k2")))
    last = c.last()
    assert len(c.modules) == 3 and last is c.modules[-1]
    assert {"k1", "k2"} <= set(last.globals) and last.get_global("k1").is_declaration
