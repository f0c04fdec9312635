"""What machine the run is on, and its measured limits: FMA peak, SGEMM rate, memory bandwidth.

The physical floors of the workloads are computed from these measured numbers, not from the
reference machine's, because this machine is shared and its clock and neighbours vary. Each
is the best of several short runs, so that a moment of load from a neighbour is not taken
for the machine's limit (a floor ratio below 1.0 in a table means it was, all the same).

- FMA peak: a JIT-compiled (llvmlite) loop of independent vector FMAs at the widest vector
  width the CPU has, run on every benchmark thread at once (ctypes releases the GIL).
- SGEMM: NumPy float32 2048x2048 matmul, best of a few.
- Memory bandwidth: STREAM's add, `c = a + b` over 64 MiB arrays split across the threads,
  counted as STREAM counts it (3 arrays moved per element), which is how the W2 floor counts
  its 50.3 MB. Two ways, the faster taken: NumPy's `add(..., out=c)`, whose ordinary stores
  also read c's lines before writing them (write-allocate: 4 arrays of traffic for 3
  counted), and a JIT-compiled loop with streaming stores, which moves just the 3 (a kernel
  that streams its output would otherwise seem to beat the floor).
"""
import ctypes
import os
import platform
import threading
import time

import numpy as np

from benchmarks.environment import THREADS

_FLAGS_OF_INTEREST = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq",
                      "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                      "amx_tile")


def cpu_info():
    """CPU model, interesting ISA flags, core count and memory, from /proc where possible."""
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    info = {
        "cpu_model": model,
        "flags": [flag for flag in _FLAGS_OF_INTEREST if flag in flags],
        "logical_cores": os.cpu_count(),
        "benchmark_threads": THREADS,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        with open("/proc/meminfo") as f:
            total_kib = int(f.readline().split()[1])
        info["memory_gib"] = round(total_kib / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return info


def measure_sgemm_gflops(n=2048, repeats=5):
    """NumPy float32 n x n matmul rate (GFLOP/s), best of `repeats` after a warm-up call."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)
    best = min(_timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2.0 * n ** 3 / best / 1e9


def measure_bandwidth_gbs(mib_per_array=64, repeats=7, threads=THREADS):
    """STREAM-style `c = a + b` bandwidth (GB/s) with the work split over `threads`: the
    faster of NumPy's add and a streaming-store loop (see the module docstring), and which."""
    n = mib_per_array * 2**20 // 4
    a, b, c = (_aligned_floats(n, fill) for fill in (1.0, 2.0, 0.0))  # c touched: no faults
    chunks = np.array_split(np.arange(n), threads)
    bounds = [(chunk[0], chunk[-1] + 1) for chunk in chunks]

    def numpy_add(lo, hi):
        np.add(a[lo:hi], b[lo:hi], out=c[lo:hi])  # NumPy releases the GIL in the loop

    seconds = {"NumPy add": min(_timed(lambda: _run_threads(numpy_add, bounds))
                                for _ in range(repeats))}
    stream = _stream_add_function()
    if stream is not None:
        fn, lanes = stream
        # each thread's share a whole number of vectors, so that each starts 64-byte aligned
        per = (n // threads) // lanes * lanes
        args = [(per // lanes, a[i * per:].ctypes.data, b[i * per:].ctypes.data,
                 c[i * per:].ctypes.data) for i in range(threads)]
        best = min(_timed(lambda: _run_threads(fn, args)) for _ in range(repeats))
        seconds["streaming-store loop"] = best * n / (per * threads)
    how, best = min(seconds.items(), key=lambda item: item[1])
    return 3 * n * 4 / best / 1e9, how


def _aligned_floats(n, fill):
    """n float32s filled with `fill`, starting on a 64-byte boundary (streaming stores of
    whole vectors need aligned addresses)."""
    raw = np.empty(n + 16, np.float32)
    start = (-raw.ctypes.data % 64) // 4
    out = raw[start:start + n]
    out.fill(fill)
    return out


def _stream_add_ir(lanes):
    """LLVM IR of `stream_add(i64 vectors, float* a, float* b, float* c)`: c = a + b with
    non-temporal stores, fenced at the end."""
    vec = f"<{lanes} x float>"
    return "\n".join([
        "declare void @llvm.x86.sse.sfence()",
        "define void @stream_add(i64 %count, ptr %a, ptr %b, ptr %c) {",
        "entry:",
        "  br label %loop",
        "loop:",
        "  %i = phi i64 [ 0, %entry ], [ %inext, %loop ]",
        f"  %off = mul i64 %i, {lanes}",
        "  %pa = getelementptr float, ptr %a, i64 %off",
        "  %pb = getelementptr float, ptr %b, i64 %off",
        "  %pc = getelementptr float, ptr %c, i64 %off",
        f"  %va = load {vec}, ptr %pa, align 64",
        f"  %vb = load {vec}, ptr %pb, align 64",
        f"  %s = fadd {vec} %va, %vb",
        f"  store {vec} %s, ptr %pc, align 64, !nontemporal !0",
        "  %inext = add i64 %i, 1",
        "  %done = icmp eq i64 %inext, %count",
        "  br i1 %done, label %exit, label %loop",
        "exit:",
        "  call void @llvm.x86.sse.sfence()",
        "  ret void",
        "}",
        "!0 = !{i32 1}",
    ])


def _stream_add_function():
    """(ctypes function, lanes) of `_stream_add_ir` for this CPU, or None (no llvmlite, or
    not x86-64)."""
    try:
        import llvmlite.binding as llvm
    except ImportError:
        return None
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    features = llvm.get_host_cpu_features()
    lanes = 16 if features.get("avx512f") else 8 if features.get("avx") else 4
    engine = _jit(llvm, _stream_add_ir(lanes), features)
    fn = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                          ctypes.c_void_p)(engine.get_function_address("stream_add"))
    fn._engine = engine  # the code lives as long as the function
    return fn, lanes


def _jit(llvm, ir, features):
    """An MCJIT engine holding `ir` compiled for the host CPU at -O3."""
    # llvmlite >= 0.45 initializes the core itself; older ones need initialize()
    for init in ("initialize_native_target", "initialize_native_asmprinter"):
        getattr(llvm, init)()
    module = llvm.parse_assembly(ir)
    target = llvm.Target.from_default_triple()
    machine = target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                           features=features.flatten(), opt=3)
    engine = llvm.create_mcjit_compiler(module, machine)
    engine.finalize_object()
    return engine


def _run_threads(fn, arg_list):
    workers = [threading.Thread(target=fn, args=args) for args in arg_list]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# 2 FMA pipes x 4-cycle latency need 8 in flight; 12 + the 2 operands fit the 16 registers
# of AVX2 (16 accumulators spill there and measure half the peak)
_ACCUMULATORS = 12


def _fma_loop_ir(lanes):
    """LLVM IR of `fma_loop(i64 n, float* m, float* out)`: n rounds of 16 independent FMAs."""
    vec = f"<{lanes} x float>"
    acc_phis, acc_next, acc_stores = [], [], []
    for k in range(_ACCUMULATORS):
        acc_phis.append(f"  %a{k} = phi {vec} [ %init, %entry ], [ %n{k}, %loop ]")
        acc_next.append(f"  %n{k} = call {vec} @llvm.fma.v{lanes}f32("
                        f"{vec} %a{k}, {vec} %mv, {vec} %cv)")
        previous = f"%s{k - 1}" if k else "%init"
        acc_stores.append(f"  %s{k} = fadd {vec} {previous}, %n{k}")
    return "\n".join([
        f"declare {vec} @llvm.fma.v{lanes}f32({vec}, {vec}, {vec})",
        "define void @fma_loop(i64 %count, ptr %m, ptr %out) {",
        "entry:",
        f"  %mv = load {vec}, ptr %m, align 4",
        f"  %cp = getelementptr float, ptr %m, i64 {lanes}",
        f"  %cv = load {vec}, ptr %cp, align 4",
        f"  %init = fadd {vec} %mv, %cv",
        "  br label %loop",
        "loop:",
        "  %i = phi i64 [ 0, %entry ], [ %inext, %loop ]",
        *acc_phis, *acc_next,
        "  %inext = add i64 %i, 1",
        "  %done = icmp eq i64 %inext, %count",
        "  br i1 %done, label %exit, label %loop",
        "exit:",
        *acc_stores,
        f"  store {vec} %s{_ACCUMULATORS - 1}, ptr %out, align 4",
        "  ret void",
        "}",
    ])


def measure_fma_peak_gflops(seconds=0.15, threads=THREADS):
    """Peak float32 FMA rate (GFLOP/s) on `threads` threads, or None without llvmlite."""
    try:
        import llvmlite.binding as llvm
    except ImportError:
        return None, "llvmlite missing"
    features = llvm.get_host_cpu_features()
    lanes = 16 if features.get("avx512f") else 8 if features.get("avx") else 4
    engine = _jit(llvm, _fma_loop_ir(lanes), features)
    fn = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p)(
        engine.get_function_address("fma_loop"))
    m = np.full(2 * lanes, 0.999, np.float32)
    outs = [np.zeros(lanes, np.float32) for _ in range(threads)]
    flops_per_round = _ACCUMULATORS * lanes * 2
    rounds = 200_000
    fn(rounds, m.ctypes.data, outs[0].ctypes.data)  # warm-up and size the run
    rounds = max(rounds, int(rounds * seconds / 4 / max(_timed(
        lambda: fn(rounds, m.ctypes.data, outs[0].ctypes.data)), 1e-6)))
    args = [(rounds, m.ctypes.data, out.ctypes.data) for out in outs]
    best = min(_timed(lambda: _run_threads(fn, args)) for _ in range(7))
    return threads * rounds * flops_per_round / best / 1e9, f"{lanes * 32}-bit vectors"


class ForeignLoad:
    """How busy other processes kept the cores while a table was being measured.

    The machine is shared: this is the share of all cores that processes other than this
    one (and its children) used between start() and share(), from /proc/stat.
    """

    def __init__(self):
        self._start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)  # not idle/iowait
        own = os.times()
        return (time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"),
                own.user + own.system + own.children_user + own.children_system)

    def share(self):
        """Fraction of all cores (0..1) used by other processes, or None off Linux."""
        end = self._sample()
        if end is None or self._start is None:
            return None
        wall = end[0] - self._start[0]
        foreign = (end[1] - self._start[1]) - (end[2] - self._start[2])
        return max(0.0, min(1.0, foreign / (wall * (os.cpu_count() or 1)))) if wall > 0 else None


def measure_all():
    """The three measured limits, with how each was measured."""
    fma, fma_how = measure_fma_peak_gflops()
    bandwidth, bandwidth_how = measure_bandwidth_gbs()
    return {
        "fma_peak_gflops": None if fma is None else round(fma, 1),
        "fma_peak_method": f"llvmlite FMA loop, {fma_how}, {THREADS} threads",
        "sgemm_gflops": round(measure_sgemm_gflops(), 1),
        "sgemm_method": "NumPy float32 matmul 2048^3, best of 5",
        "bandwidth_gbs": round(bandwidth, 1),
        "bandwidth_method": f"c = a + b by {bandwidth_how} (the faster of NumPy's add and a "
                            f"streaming-store loop), 64 MiB arrays, {THREADS} threads, "
                            "3 arrays counted",
    }
