"""Compile several LLVM modules at once, on the host's cores, while the caller keeps lowering.

    session = CompileSession("train_step")
    session.submit(module_a)        # a worker thread starts optimizing it now
    ...                             # the caller lowers the next kernels meanwhile
    session.submit(module_b)
    objects = session.finish()      # object bytes, in submission order

Why threads can run LLVM at the same time here: llvmlite serializes every call into LLVM
behind one process-wide lock, but LLVM itself compiles modules that live in distinct
LLVMContexts concurrently. Each module is parsed into a context of its own, optimized and
emitted with a TargetMachine of its own, and the three heavy calls (parse, the pass
pipeline, object emission) are made without llvmlite's lock; they release the GIL, so the
caller's Python lowering also overlaps them. Everything else (creating and disposing the
objects) still goes through the lock. When llvmlite's internals are not the expected ones,
or a single thread is asked for, every module is compiled in the caller's thread: the same
object code, one module after the other.
"""
import ctypes
import os
import queue
import threading

from graphkit.codegen import pipeline
from graphkit.codegen.target import host_target
from graphkit.codegen.target import llvm  # llvmlite.binding, imported lazily (warm: never)

_HEAVY = ("LLVMPY_ParseAssembly", "LLVMPY_RunNewModulePassManager",
          "LLVMPY_TargetMachineEmitToMemory")
_MAX_THREADS = 4
_count_lock = threading.Lock()


def _count(n):
    """Record `n` optimize and `n` codegen runs (pipeline.COUNTERS; from any thread)."""
    with _count_lock:
        pipeline.COUNTERS["optimize"] += n
        pipeline.COUNTERS["codegen"] += n


def _unlocked(name):
    """The raw ctypes function behind llvmlite's locking wrapper, or None if llvmlite does
    not wrap its functions the way this module expects (then nothing runs concurrently)."""
    fn = getattr(llvm.ffi.lib, name, None)
    raw = getattr(fn, "_cfn", None)
    if raw is None or getattr(raw, "argtypes", None) is None:
        return None
    return raw


def threads():
    """How many threads compile at once: GRAPHKIT_COMPILE_THREADS, else the core count
    (at most 4), 1 when llvmlite's calls cannot be made without its lock."""
    if any(_unlocked(n) is None for n in _HEAVY):
        return 1
    env = os.environ.get("GRAPHKIT_COMPILE_THREADS", "")
    try:
        wanted = int(env) if env else min(os.cpu_count() or 1, _MAX_THREADS)
    except ValueError:
        raise ValueError(f"GRAPHKIT_COMPILE_THREADS must be an integer, received {env!r}")\
            from None
    return max(1, wanted)


def _machine():
    """A TargetMachine of the host target for one compile job (never shared between
    threads: LLVM does not promise that TargetMachine is thread-safe). ~0.2 ms."""
    t = host_target()
    return llvm.Target.from_triple(t.triple).create_target_machine(
        cpu=t.cpu, features=t.features, opt=3, reloc="default", codemodel="jitdefault",
        jit=True)


def compile_text(ir_text, name, level=pipeline.FULL, unlocked=True):
    """IR text -> object bytes in a fresh LLVMContext (with `unlocked`, safe to run in
    several threads at once). Counts nothing: the session counts in the caller's thread."""
    ffi = llvm.ffi
    heavy = {n: (_unlocked(n) if unlocked else None) or getattr(ffi.lib, n) for n in _HEAVY}
    target, machine = host_target(), _machine()
    context = llvm.create_context()
    mod = None
    try:
        with ffi.OutputString() as err:
            ptr = heavy["LLVMPY_ParseAssembly"](context, ir_text.encode("utf-8"), err)
            if err:
                if ptr:
                    llvm.ModuleRef(ptr, context).close()
                raise pipeline.CodegenError(f"LLVM rejected the IR of {name!r}: {err}")
        mod = llvm.ModuleRef(ptr, context)
        try:
            mod.verify()
        except RuntimeError as e:
            raise pipeline.CodegenError(f"LLVM rejected the IR of {name!r}: {e}") from None
        mod.name, mod.triple, mod.data_layout = name, target.triple, target.data_layout
        pb = llvm.create_pass_builder(machine, pipeline._tuning_options(level))
        passes = pipeline.module_pass_manager(pb, level)
        heavy["LLVMPY_RunNewModulePassManager"](passes, mod, pb)
        with ffi.OutputString() as err:
            buf = heavy["LLVMPY_TargetMachineEmitToMemory"](machine, mod, 1, err)
            if not buf:
                raise pipeline.CodegenError(f"LLVM could not emit the object of {name!r}: "
                                            f"{err}")
        try:
            return ctypes.string_at(ffi.lib.LLVMPY_GetBufferStart(buf),
                                    ffi.lib.LLVMPY_GetBufferSize(buf))
        finally:
            ffi.lib.LLVMPY_DisposeMemoryBuffer(buf)
    finally:
        if mod is not None:
            mod.close()   # a module must go before its context
        context.close()


def compile_one(ir_text, name, level=pipeline.FULL):
    """IR text -> object bytes in the calling thread, counted; it holds llvmlite's lock only
    for the cheap calls, so it can run next to a session (the thread pool's runtime is built
    this way on a thread of its own while a graph compiles)."""
    obj = compile_text(str(ir_text), name, level, unlocked=threads() > 1)
    _count(1)
    return obj


class CompileSession:
    """Modules submitted one by one, compiled by up to `threads()` threads: worker threads
    start on the first submission; the caller's thread joins in at `finish`.

    Use as a context manager (or call `finish`): leaving it stops the workers."""

    def __init__(self, label, level=pipeline.FULL, n_threads=None):
        self.label = label
        self.level = level
        self.n_threads = threads() if n_threads is None else max(1, int(n_threads))
        self._jobs = queue.SimpleQueue()
        self._results = []        # per submission: object bytes, or the exception raised
        self._workers = []

    @property
    def parallel(self):
        return self.n_threads > 1

    def submit(self, module, level=None):
        """Queue `module` (llvmlite.ir.Module or IR text), to be optimized at `level` (default:
        the session's); with one thread, compile it now."""
        index = len(self._results)
        self._results.append(None)
        job = (index, str(module), f"{self.label}_{index}", self.level if level is None
               else level)
        if not self.parallel:
            self._run(job, unlocked=False)
            return
        self._jobs.put(job)
        if len(self._workers) < self.n_threads - 1:
            worker = threading.Thread(target=self._work, name=f"gk-compile-{self.label}",
                                      daemon=True)
            worker.start()
            self._workers.append(worker)

    def _run(self, job, unlocked=True):
        index, text, name, level = job
        try:
            self._results[index] = compile_text(text, name, level, unlocked)
        except BaseException as e:  # noqa: BLE001 - re-raised by `finish` in the caller
            self._results[index] = e

    def _work(self):
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._run(job)

    def _drain(self, run):
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None and run:
                self._run(job)

    def _stop(self, run):
        self._drain(run)          # the caller's thread compiles what no worker took yet
        for _ in self._workers:
            self._jobs.put(None)
        for worker in self._workers:
            worker.join()
        self._workers = []

    def finish(self):
        """The object bytes of every submitted module, in submission order."""
        self._stop(run=True)
        _count(len(self._results))
        for r in self._results:
            if isinstance(r, BaseException):
                raise r
        return list(self._results)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stop(run=False)
        return False
