"""Shared helpers for codegen tests: compile kernels and call them through ctypes."""
import ctypes

import numpy as np
from llvmlite import ir

from graphkit.codegen.build import build


def compile_kernels(emitters):
    """emitters: {name: fn(module, name)}; one module, one library; returns ctypes functions."""
    module = ir.Module(name="test")
    specs = {name: emit(module, name) for name, emit in emitters.items()}
    lib = build(module, list(emitters), label="test")
    fns = {name: lib.function(name, None, ctypes.c_void_p) for name in emitters}
    return fns, specs


def call(fn, arrays):
    """Call a `void f(ptr args)` kernel with the data pointers of `arrays`."""
    ptrs = (ctypes.c_void_p * len(arrays))(*[_addr(a) for a in arrays])
    fn(ctypes.addressof(ptrs))


def _addr(a):
    return a.ctypes.data if isinstance(a, np.ndarray) else int(a)


def workspace(nbytes):
    raw = np.zeros(nbytes + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    return raw[start:start + max(1, nbytes)]
