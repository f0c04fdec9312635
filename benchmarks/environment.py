"""Process environment shared by every benchmark process (the main run and its children).

Thread counts must be fixed *before* NumPy, JAX, PyTorch or ONNX Runtime are imported: their
thread pools read these variables once, at import.
"""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Both cores, the same way for every peer (BENCHMARKS: "Use both cores the same way").
THREADS = int(os.environ.get("BENCH_THREADS", "2"))

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "TORCHINDUCTOR_COMPILE_THREADS")

_HEAVY_MODULES = ("numpy", "torch", "jax", "onnxruntime", "numba")


def pin_threads():
    """Set thread-pool sizes and quiet, CPU-only peer settings; remember what was too late."""
    late = [name for name in _HEAVY_MODULES if name in sys.modules]
    for var in _THREAD_VARS:
        os.environ[var] = str(THREADS)
    os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=true "
                                       f"intra_op_parallelism_threads={THREADS}")
    # Peers run one after another in one process: a BLAS or OpenMP pool that keeps spinning
    # after its call would steal a core from the next peer. Idle workers sleep, for everyone.
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ.setdefault("DEV", "CPU")                 # tinygrad's device selection
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Modules imported before us keep the thread pools they started with: say so in results.
    os.environ["BENCH_IMPORTED_BEFORE_PINNING"] = ",".join(late)


def settings():
    """The environment the run used, for results.json."""
    keys = _THREAD_VARS + ("XLA_FLAGS", "JAX_PLATFORMS", "KERAS_BACKEND", "DEV",
                           "BENCH_IMPORTED_BEFORE_PINNING", "GRAPHKIT_CACHE_DIR")
    return {key: os.environ.get(key) for key in keys}
