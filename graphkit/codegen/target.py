"""The host target: triple, CPU name and features, the -O3 TargetMachine, vector widths.

Code is generated for the machine it runs on (like `-march=native`), so the target is part of
every cache key (`target_key`): an object file built for an AVX-512 machine must never be
loaded on one without it.

Why two descriptions of the target: LLVM's CPU name and features (`host_target`) need
llvmlite.binding, whose import loads libllvmlite.so (~25 ms). A warm process compiles nothing,
so its cache keys use `host_fingerprint` instead: what the kernel reports about the CPU
(/proc/cpuinfo: vendor, family, model, flags), the OS and machine, and which llvmlite (version
and the size of its LLVM library) would compile. Everything LLVM derives its host CPU name and
features from is in there, so two machines that LLVM tells apart get different keys.
"""
import fnmatch
import functools
import hashlib
import os
import sys
import threading

import llvmlite  # cheap (its version only); llvmlite.binding is imported on first use


class _LazyBinding:
    """`llvmlite.binding`, imported on first attribute access: a warm process never does."""

    def __getattr__(self, name):
        import llvmlite.binding
        return getattr(llvmlite.binding, name)


llvm = _LazyBinding()

# Bump when the code generator changes in a way that changes the object code for the same
# input (it invalidates every cached object). The cache key also hashes the generator's
# source (`codegen_source_hash`), so a forgotten bump cannot serve stale object code.
# 8: AVX2 tiles and stores, row-scratch updates, unrolled epilogues, inlined constants
# 14: NumPy's signed-zero ties in maximum/minimum, double -> half without a libcall
# 15: hand-vectorized chunks (VECTOR) optimized by a short pass pipeline instead of O2
CODEGEN_VERSION = 15

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Every module whose text can change the object code emitted for a given graph: the
# emitters, kernel descriptions, dtype rules, and the Philox constants of the random ops.
CODEGEN_SOURCES = ("codegen/*.py", "ir/kernel.py", "dtypes.py", "ops/random.py")


@functools.lru_cache(maxsize=None)
def initialize():
    """LLVM's native target must be initialized once per process before any codegen."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    llvm.initialize_native_asmparser()
    return True


class HostTarget:
    """The target LLVM reports (immutable). A plain class, not a frozen dataclass: making a
    dataclass costs ~0.6 ms, on the import path of a warm process's first compiled call."""

    def __init__(self, triple, cpu, features):
        object.__setattr__(self, "triple", triple)
        object.__setattr__(self, "cpu", cpu)
        object.__setattr__(self, "features", features)

    def __setattr__(self, name, value):
        raise AttributeError(f"HostTarget is immutable: cannot assign {name!r}")

    def __delattr__(self, name):
        raise AttributeError(f"HostTarget is immutable: cannot delete {name!r}")

    def _fields(self):
        return (self.triple, self.cpu, self.features)

    def __eq__(self, other):
        return self._fields() == other._fields() if type(other) is HostTarget \
            else NotImplemented

    def __hash__(self):
        return hash(self._fields())

    def __repr__(self):
        return (f"HostTarget(triple={self.triple!r}, cpu={self.cpu!r}, "
                f"features={self.features!r})")

    @property
    def has_avx512(self):
        return "+avx512f" in self.features.split(",")

    @property
    def has_avx2(self):
        return "+avx2" in self.features.split(",")

    @property
    def vector_registers(self):
        """How many vector registers the kernels are tiled for (x86-64: 32 with AVX-512,
        else 16; 32 when GRAPHKIT_VECTOR_BITS asks for 512-bit vectors)."""
        return 32 if self.vector_bits >= 512 else 16

    @property
    def vector_bits(self):
        """Width of the vectors the kernels use: the widest register, or
        GRAPHKIT_VECTOR_BITS (128, 256 or 512). Wider than the CPU's registers, LLVM splits
        each vector into several: slower, same results, which is how the AVX-512 code paths
        (tile shapes, 16-lane masks) are tested on an AVX2 machine."""
        forced = vector_bits_override()
        if forced:
            return forced
        if self.has_avx512:
            return 512
        if self.has_avx2:
            return 256
        return 128

    def lanes(self, itemsize):
        """How many elements of `itemsize` bytes fill one vector register."""
        return max(1, self.vector_bits // (8 * itemsize))

    @functools.cached_property
    def target_machine(self):
        initialize()
        target = llvm.Target.from_triple(self.triple)
        # 'jitdefault' is the large code model on x86-64: the JIT linker may place sections
        # far apart, and the same object bytes are loaded again from the disk cache.
        return target.create_target_machine(
            cpu=self.cpu, features=self.features, opt=3, reloc="default",
            codemodel="jitdefault", jit=True)

    @functools.cached_property
    def data_layout(self):
        return str(self.target_machine.target_data)

    def magic_tuple(self):
        """Everything about the target that changes object code (per LLVM's own view)."""
        return (self.triple, self.cpu, self.features, l2_cache_bytes(), llvm.llvm_version_info,
                llvmlite.__version__, CODEGEN_VERSION, codegen_source_hash())


def source_files(patterns=CODEGEN_SOURCES, root=_PACKAGE_DIR):
    """The files matched by `patterns` (globs relative to `root`), sorted, deduplicated."""
    found = set()
    for pattern in patterns:
        found.update(_glob(os.path.join(root, pattern)))
    return sorted(found)


def _glob(pattern):
    """`glob.glob(pattern)`, without importing glob (~0.3 ms on a warm process's first
    compiled call) when only the last part of the path has wildcards, as in CODEGEN_SOURCES."""
    folder, name = os.path.split(pattern)
    if any(c in folder for c in "*?["):
        import glob
        return glob.glob(pattern)
    if not any(c in name for c in "*?["):
        return [pattern] if os.path.lexists(pattern) else []
    try:
        names = os.listdir(folder or os.curdir)
    except OSError:
        return []
    # glob's rule: a wildcard does not match a leading dot
    hidden = name.startswith(".")
    return [os.path.join(folder, n) for n in fnmatch.filter(names, name)
            if hidden or not n.startswith(".")]


def hash_files(paths, root=_PACKAGE_DIR):
    """sha256 over each file's path (relative to `root`) and bytes.

    Why bytes, not mtimes and sizes: a fresh clone gives every file a new mtime, and an edit
    can keep the size; only the content says whether the generated code may differ."""
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        name = os.path.relpath(path, root).replace(os.sep, "/").encode()
        h.update(b"%d:%s%d:" % (len(name), name, len(data)))
        h.update(data)
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def codegen_source_hash():
    """Hash of the code generator's source, computed once per process (~1.5 ms; read from
    graphkit/ir/source_memo.py's memo while no file changed)."""
    from graphkit.ir.source_memo import remembered
    paths = source_files()
    return remembered("codegen sources", paths, lambda: hash_files(paths))


def _host_features():
    try:
        return llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # some platforms cannot report features; the CPU name implies them
        return ""


# Why a lock: the thread pool's runtime may be built on a thread of its own (backend.py's
# `prepare`) while the caller's thread asks for the target too; LLVM's targets are then
# initialized once, by one of them.
_host_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def host_target():
    """The target of this machine (cached for the process)."""
    with _host_lock:
        initialize()
        return HostTarget(triple=llvm.get_process_triple(), cpu=llvm.get_host_cpu_name(),
                          features=_host_features())


@functools.lru_cache(maxsize=None)
def l2_cache_bytes():
    """One core's L2 cache in bytes (sysfs; 1 MiB where it does not say): the GEMM sizes
    its blocks to it. Part of the cache key, as it changes the object code."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for index in sorted(os.listdir(base)):
            with open(os.path.join(base, index, "level")) as f:
                level = f.read().strip()
            with open(os.path.join(base, index, "type")) as f:
                kind = f.read().strip()
            if level == "2" and kind in ("Unified", "Data"):
                with open(os.path.join(base, index, "size")) as f:
                    size = f.read().strip()
                scale = {"K": 1 << 10, "M": 1 << 20}.get(size[-1:], 1)
                return int(size.rstrip("KM")) * scale
    except (OSError, ValueError):
        pass
    return 1 << 20


# /proc/cpuinfo fields that identify what the CPU can run ("cpu MHz", "bogomips" vary).
_CPUINFO_FIELDS = ("vendor_id", "cpu family", "model", "model name", "flags")


def _cpuinfo():
    """The identifying fields of the first processor in /proc/cpuinfo, or None."""
    fields = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough: all cores run the code
                key, _, value = line.partition(":")
                key = key.strip()
                if key in _CPUINFO_FIELDS:
                    fields[key] = " ".join(value.split())
    except OSError:
        return None
    return fields if "flags" in fields else None


def _llvmlite_build():
    """llvmlite's version and its LLVM library's size: a rebuilt LLVM changes the key."""
    lib_dir = os.path.join(os.path.dirname(llvmlite.__file__), "binding")
    sizes = []
    for name in sorted(os.listdir(lib_dir)):
        if name.startswith("libllvmlite"):
            sizes.append((name, os.path.getsize(os.path.join(lib_dir, name))))
    return llvmlite.__version__, tuple(sizes)


@functools.lru_cache(maxsize=None)
def host_fingerprint():
    """The host as far as object code is concerned, without LLVM; None where /proc/cpuinfo
    does not describe the CPU (then `target_key` asks LLVM)."""
    cpu = _cpuinfo()
    if cpu is None:
        return None
    return ("host", sys.platform, os.uname().machine, tuple(sorted(cpu.items())),
            l2_cache_bytes(), _llvmlite_build())


def vector_bits_override():
    """GRAPHKIT_VECTOR_BITS as an int (0 when unset)."""
    env = os.environ.get("GRAPHKIT_VECTOR_BITS")
    if not env:
        return 0
    if env not in ("128", "256", "512"):
        raise ValueError(f"GRAPHKIT_VECTOR_BITS: expected 128, 256 or 512, received {env!r}")
    return int(env)


def target_key():
    """The target part of every cache key: the cheap host fingerprint plus the code
    generator's version and source hash (LLVM's own target description where no fingerprint
    is available), the thread count the kernels are split for (GRAPHKIT_NUM_THREADS: a
    GEMM sizes its workspace and its work split by it) and GRAPHKIT_VECTOR_BITS."""
    from graphkit.codegen.parallel import num_threads
    tuning = (num_threads(), vector_bits_override())
    fingerprint = host_fingerprint()
    if fingerprint is None:
        return host_target().magic_tuple() + tuning
    return fingerprint + (CODEGEN_VERSION, codegen_source_hash()) + tuning
