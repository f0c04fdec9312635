"""The host target: triple, CPU name and features, the -O3 TargetMachine, vector widths.

Code is generated for the machine it runs on (like `-march=native`), so the CPU name and the
feature string are part of every cache key (`magic_tuple`): an object file built for an
AVX-512 machine must never be loaded on one without it.
"""
import functools
import glob
import hashlib
import os
from dataclasses import dataclass

import llvmlite
import llvmlite.binding as llvm

# Bump when the code generator changes in a way that changes the object code for the same
# input (it invalidates every cached object). The cache key also hashes the generator's
# source (`codegen_source_hash`), so a forgotten bump cannot serve stale object code.
CODEGEN_VERSION = 4  # 4: GEMM reads A (B for tiny M) in place, narrow tiles, B packed in blocks

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


@dataclass(frozen=True)
class HostTarget:
    triple: str
    cpu: str
    features: str

    @property
    def has_avx512(self):
        return "+avx512f" in self.features.split(",")

    @property
    def has_avx2(self):
        return "+avx2" in self.features.split(",")

    @property
    def has_fma(self):
        return "+fma" in self.features.split(",")

    @property
    def vector_bits(self):
        """Width of the widest vector register the kernels use."""
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
        """Everything about the target that changes object code: part of every cache key."""
        return (self.triple, self.cpu, self.features, llvm.llvm_version_info,
                llvmlite.__version__, CODEGEN_VERSION, codegen_source_hash())


def source_files(patterns=CODEGEN_SOURCES, root=_PACKAGE_DIR):
    """The files matched by `patterns` (globs relative to `root`), sorted, deduplicated."""
    found = set()
    for pattern in patterns:
        found.update(glob.glob(os.path.join(root, pattern)))
    return sorted(found)


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
    """Hash of the code generator's source, computed once per process (~1 ms)."""
    return hash_files(source_files())


def _host_features():
    try:
        return llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # some platforms cannot report features; the CPU name implies them
        return ""


@functools.lru_cache(maxsize=None)
def host_target():
    """The target of this machine (cached for the process)."""
    initialize()
    return HostTarget(triple=llvm.get_process_triple(), cpu=llvm.get_host_cpu_name(),
                      features=_host_features())
