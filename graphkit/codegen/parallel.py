"""Split big kernels across the cores with a small persistent thread pool written in LLVM IR.

Why native: the whole graph is one native call per step, so the split must happen inside
native code; a pool of Python threads would need one ctypes call per kernel and per thread.
Why persistent: creating and joining a pthread costs tens of microseconds per kernel; waking
a spinning worker costs well under one.

The pool lives in its own JIT library ("gkrt"), linked once per process; its object code is
cached on disk under a fixed key, so only a cold process builds its IR (parallel_ir.py).
Kernel libraries call it by name:

    void gk_parallel_run(void (*task)(void *ctx, i32 tid, i32 nthreads), void *ctx)

runs `task(ctx, tid, n)` for every tid in [0, n) and returns when all are done. The tids
are chunks claimed by whichever thread gets there first (the caller takes tid 0, woken
workers the others, and the caller any chunk no worker has claimed by the time it is done),
so a worker the scheduler has not run yet never holds the caller up. A task splits its own
iteration range by (tid, n) (`split_range`). When the pool is not running, or is busy
because another thread is in a parallel region (two Python threads calling compiled code at
once), the task runs once as `task(ctx, 0, 1)`, which covers the whole range: the result
never depends on the pool.

Workers spin (with `pause`) for a short while after each task (~0.1 ms), so that the
kernels of one step find them awake, then sleep on a condition variable. Longer spins cost
more than they save now that the caller never waits for a sleeping worker: on a busy
machine a spinning worker takes CPU time the caller needs (W3's median step was 1.5x
jax.jit with 20000 spins, 1.04x with 2000, in the same loaded benchmark runs). The pool is stopped at exit
(its code, loaded by object_loader or LLJIT, is never unmapped before that) and forgotten
in a forked child.

GRAPHKIT_NUM_THREADS sets the thread count (default: the CPU count, at most 8).
"""
import atexit
import ctypes
import os
import threading


MAX_THREADS = 8
SPIN_ITERATIONS = 2000
YIELD_EVERY = 1024  # pauses between sched_yield calls while the caller waits for workers
# Below this many bytes touched (or flops) a kernel runs on one thread: the wake-up and the
# split cost more than they save. Emitters compare their static work estimate to it.
MIN_PARALLEL_WORK = 1 << 18

RUN_SYMBOL = "gk_parallel_run"
EXPORTS = (RUN_SYMBOL, "gk_pool_start", "gk_pool_stop", "gk_pool_forget")
# The pool's object code is cached under this name. The IR's generator (parallel_ir.py) is
# part of the codegen source hash in every cache key, so a changed pool gets a new key.
_RUNTIME_KEY = "graphkit thread pool runtime 1"

_lock = threading.Lock()
_state = {"lib": None, "start": None, "stop": None, "forget": None, "threads": 1}


def num_threads():
    env = os.environ.get("GRAPHKIT_NUM_THREADS")
    if env:
        try:
            return max(1, min(MAX_THREADS, int(env)))
        except ValueError:
            raise ValueError(f"GRAPHKIT_NUM_THREADS: expected a positive integer, "
                             f"received {env!r}") from None
    return max(1, min(MAX_THREADS, os.cpu_count() or 1))


# -- process-wide management ------------------------------------------------------------------

def runtime():
    """Load the pool library (once), register `gk_parallel_run`, start the workers."""
    with _lock:
        if _state["lib"] is not None:
            return _state
        from graphkit.codegen import build, engine, pipeline
        # LIGHT: spin loops and atomics gain nothing from O3's vectorizers (-20 ms cold)
        lib = build.build_keyed(_RUNTIME_KEY, _pool_module, list(EXPORTS), label="gkrt",
                                level=pipeline.LIGHT)
        engine.register_runtime_symbol(RUN_SYMBOL, lib.address(RUN_SYMBOL))
        _state["lib"] = lib
        _state["start"] = lib.function("gk_pool_start", ctypes.c_int32, ctypes.c_int32)
        _state["stop"] = lib.function("gk_pool_stop", None)
        _state["forget"] = lib.function("gk_pool_forget", None)
        _state["run"] = lib.function(RUN_SYMBOL, None, ctypes.c_void_p, ctypes.c_void_p)
        _state["threads"] = _state["start"](num_threads())
        atexit.register(_state["stop"])
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_state["forget"])
        return _state


def active_threads():
    """How many threads a parallel region uses now (1 when the pool is not running)."""
    return runtime()["threads"]


def stop():
    """Join the workers (tests; also registered at exit). `restart()` starts them again."""
    st = runtime()
    st["stop"]()
    st["threads"] = 1


def restart(nthreads=None):
    st = runtime()
    st["threads"] = st["start"](nthreads or num_threads())
    return st["threads"]


def _pool_module():
    from graphkit.codegen.parallel_ir import pool_module
    return pool_module()


# -- helpers for emitters (cold path only: they import llvmlite.ir) ---------------------------

def __getattr__(name):
    if name == "TASK_TYPE":  # `void task(ptr ctx, i32 tid, i32 nthreads)`
        from graphkit.codegen.parallel_ir import TASK_TYPE
        return TASK_TYPE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def declare_run(module):
    """Declare `gk_parallel_run` in a kernel module, and make sure the pool is loaded by the
    time the module is linked: here, unless `load_in_background()` is already loading it
    (then the linker's caller calls `runtime()` first, and lowering does not wait)."""
    from graphkit.codegen.llvm_types import PTR, VOID, intrinsic
    if not _state.get("loading"):
        runtime()
    return intrinsic(module, RUN_SYMBOL, VOID, [PTR, PTR])


def prepare():
    """Before a graph is traced (backend.py): cold (the pool's object code is not in the
    disk cache), start building the runtime on a thread, so that LLVM's start-up and the
    pool's compile run on the second core during the trace and the graph passes instead of
    next to the graph's own compiles. Warm, `runtime()` loads it at link time as before: on
    a thread, reading it would only take turns with the trace for the GIL."""
    from graphkit.codegen import build
    if _state["lib"] is None and not build.keyed_in_cache(_RUNTIME_KEY):
        load_in_background()


def load_in_background():
    """Start loading the pool's runtime on a thread (cold, building it is ~40 ms of LLVM
    work that can overlap lowering); `runtime()` waits for it under the pool's lock, and
    raises any error itself. The caller must call `runtime()` before linking kernels."""
    if _state["lib"] is not None or _state.get("loading"):
        return
    _state["loading"] = True

    def load():
        try:
            runtime()
        except Exception:  # noqa: BLE001 - the caller's own runtime() raises it again
            pass
    threading.Thread(target=load, name="gk-runtime", daemon=True).start()


def split_range(builder, tid, nthreads, total, align=1):
    """[begin, end) of `total` (i64) for thread `tid` of `nthreads`, in multiples of `align`
    (the last thread takes the remainder)."""
    from graphkit.codegen.llvm_types import I64
    b = builder
    tid64, n64 = b.sext(tid, I64), b.sext(nthreads, I64)
    units = b.udiv(b.add(total, I64(align - 1)), I64(align))
    per = b.udiv(b.add(units, b.sub(n64, I64(1))), n64)
    begin = b.mul(b.mul(per, tid64), I64(align))
    end = b.mul(b.mul(per, b.add(tid64, I64(1))), I64(align))
    clamp = lambda v: b.select(b.icmp_unsigned("<", v, total), v, total)  # noqa: E731
    return clamp(begin), clamp(end)


def emit_task_call(builder, task_fn, ctx_ptr, parallel):
    """Call task(ctx) through the pool when `parallel`, else directly as task(ctx, 0, 1)."""
    if parallel:
        builder.call(declare_run(builder.module), [task_fn, ctx_ptr])
    else:
        from graphkit.codegen.llvm_types import I32
        builder.call(task_fn, [ctx_ptr, I32(0), I32(1)])


__all__ = ["runtime", "declare_run", "split_range", "emit_task_call", "active_threads",
           "MIN_PARALLEL_WORK", "num_threads"]
