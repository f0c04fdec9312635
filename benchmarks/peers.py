"""Lazy, uniform access to the peer frameworks.

Each accessor imports its framework on first use, applies the benchmark's thread settings,
and raises PeerMissing (a row note, not an error) when the package is not installed.
"""
import functools
import importlib
import importlib.metadata
import importlib.util
import os
import shutil

from benchmarks.environment import THREADS
from benchmarks.harness import PeerMissing

# peer package -> pip name, for the "missing" note and the version table
PACKAGES = {
    "numpy": "numpy", "llvmlite": "llvmlite", "networkx": "networkx", "graphkit": "graphkit",
    "jax": "jax", "jaxlib": "jaxlib", "torch": "torch", "onnxruntime": "onnxruntime",
    "onnx": "onnx", "numba": "numba", "keras": "keras", "tinygrad": "tinygrad",
    "psutil": "psutil",
}

# every peer family, and what it needs to run
PEER_FAMILIES = {
    "jax": ("jax",), "torch": ("torch",), "onnxruntime": ("onnxruntime", "onnx"),
    "keras": ("keras", "jax"), "tinygrad": ("tinygrad",), "numba": ("numba",),
}


def _import(module, pip_name=None):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PeerMissing(f"{pip_name or module} not installed ({exc.__class__.__name__})") \
            from None


def versions():
    """Installed version of every package the benchmark knows about (None when missing)."""
    found = {}
    for module, dist in PACKAGES.items():
        try:
            found[module] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[module] = None
    if found["graphkit"] is None:  # running from a source tree that is not installed
        try:
            found["graphkit"] = importlib.import_module("graphkit").__version__ + " (source)"
        except ImportError:
            pass
    return found


def missing_families():
    """Peer families whose packages are not installed, with what is missing."""
    missing = {}
    for family, modules in PEER_FAMILIES.items():
        absent = [m for m in modules if importlib.util.find_spec(m) is None]
        if family == "tinygrad" and not absent and shutil.which("clang") is None:
            absent.append("clang (tinygrad's CPU backend compiles with it: apt install clang)")
        if absent:
            missing[family] = absent
    return missing


@functools.cache
def jax():
    jax = _import("jax")
    # x64 off: float32 everywhere, as for every peer
    jax.config.update("jax_enable_x64", False)
    return jax


@functools.cache
def torch():
    torch = _import("torch")
    torch.set_num_threads(THREADS)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work already started
        pass
    return torch


@functools.cache
def onnx():
    return _import("onnx")


@functools.cache
def onnxruntime():
    ort = _import("onnxruntime")
    ort.set_default_logger_severity(3)
    return ort


def ort_session(model_proto):
    """An ONNX Runtime CPU session on the benchmark's threads, fully optimized."""
    ort = onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_proto.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


@functools.cache
def keras():
    if os.environ.get("KERAS_BACKEND", "jax") != "jax":
        raise PeerMissing("keras peer runs on JAX; KERAS_BACKEND is "
                          f"{os.environ['KERAS_BACKEND']!r}")
    jax()
    return _import("keras")


@functools.cache
def tinygrad():
    tinygrad = _import("tinygrad")
    if shutil.which("clang") is None:
        raise PeerMissing("tinygrad's CPU backend needs clang (apt install clang)")
    return tinygrad


def tinygrad_sync():
    """Wait for tinygrad's CPU queue (its kernels run on worker threads)."""
    from tinygrad import Device
    Device[Device.DEFAULT].synchronize()


@functools.cache
def numba():
    return _import("numba")


@functools.cache
def graphkit():
    return _import("graphkit")
