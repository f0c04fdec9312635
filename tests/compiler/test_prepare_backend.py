"""prepare_backend: a jitted function's trace first lets its backend start the set-up every
compile needs (the llvm backend, cold: building the thread pool's runtime on a thread),
once per trace, never for a cache hit; backends without a `prepare` and unknown names are
left alone."""
import os

import numpy as np

import graphkit as gk
from graphkit import config, ops
from graphkit.codegen import backend as llvm_backend
from graphkit.codegen import build, disk_cache, parallel
from graphkit.compiler import executable


def test_a_trace_prepares_its_backend_before_compiling(monkeypatch):
    events = []
    monkeypatch.setattr(llvm_backend.LLVMExecutable, "prepare",
                        staticmethod(lambda: events.append("prepare")))
    compile_graph = executable.compile_graph

    def recording_compile_graph(*args, **kwargs):
        events.append("compile")
        return compile_graph(*args, **kwargs)
    monkeypatch.setattr("graphkit.compiler.stages.compile_graph", recording_compile_graph)
    jf = gk.jit(lambda x: ops.exp(x) * 2.0, backend="llvm")
    x = np.linspace(-1, 1, 8, dtype=np.float32)
    np.testing.assert_allclose(jf(x).numpy(), np.exp(x) * 2.0, rtol=1e-6)
    jf(x)   # a cache hit: neither prepares nor compiles
    jf(np.zeros(3, np.float32))   # a new signature traces again
    assert events == ["prepare", "compile", "prepare", "compile"]


def test_backends_without_prepare_and_unknown_names_are_left_alone():
    executable.prepare_backend("interpreter")
    executable.prepare_backend("no such backend")   # compile_graph reports it, not this


def test_the_thread_pool_is_built_ahead_only_when_it_is_not_cached(monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(parallel, "load_in_background", lambda: started.append(1))
    monkeypatch.setitem(parallel._state, "lib", None)
    monkeypatch.setattr(config, "cache_dir", lambda: str(tmp_path))
    executable.prepare_backend("llvm")     # cold: nothing cached
    assert started == [1]
    entry = disk_cache.entry_path(build._keyed_key(parallel._RUNTIME_KEY))
    os.makedirs(os.path.dirname(entry))
    open(entry, "wb").close()
    executable.prepare_backend("llvm")     # warm: runtime() loads it at link time
    assert started == [1]
