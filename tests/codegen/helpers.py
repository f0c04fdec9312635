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


def native_outputs(fn, *args, kind):
    """gk.jit(fn)(*args) as arrays, checking that every kernel ran natively and that one of
    them is a `kind` kernel (so the op under test was not folded or fused away)."""
    import graphkit as gk
    from graphkit.codegen.backend import LLVMExecutable
    f = gk.jit(fn)
    exe = f.lower(*args).compile().executable
    assert isinstance(exe, LLVMExecutable)
    assert exe.stats()["interpreted_kernels"] == []
    kinds = [n.attrs["kind"] for n in exe.graph.nodes if n.op == "kernel"]
    assert kind in kinds, kinds
    return [np.asarray(o) for o in gk.tree.flatten(f(*args))]


def assert_same(got, want):
    """Bit-for-bit equal, same dtype and shape."""
    want = np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def random_data(rng, shape, dtype="float32", int_span=100):
    """Random test data of any dtype: normals, integers in [-int_span, int_span), bools."""
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("int"):
        return rng.integers(-int_span, int_span, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def i64_function_module(module_name, function_name, body):
    """A module defining `i64 function_name(i64 x)` that returns `body(builder, x)`."""
    from graphkit.codegen.llvm_types import I64
    m = ir.Module(name=module_name)
    f = ir.Function(m, ir.FunctionType(I64, [I64]), function_name)
    b = ir.IRBuilder(f.append_basic_block())
    b.ret(body(b, f.args[0]))
    return m
