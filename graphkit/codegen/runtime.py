"""Calling native code with one ctypes call per step, and the whole-graph entry function.

Per-call cost is the point (see BENCHMARKS: reading `.ctypes.data` costs ~1 us per array):
`BoundCall` builds the pointer array once, and each call passes one integer.

    entry = emit_entry(module, "step", [Step("k0", (0, 1, 3)), Step("k1", (3, 2))], n_slots=4)
    lib = build(module, ["step"])
    call = BoundCall(lib.function("step", None, ctypes.c_void_p), [x, w, out, scratch])
    call()            # one native call runs k0 then k1

`emit_entry` makes `void @step(ptr slots)`: `slots` is one array of buffer pointers (graph
inputs, outputs, variables, arena intermediates, workspaces); step i calls kernel i with the
pointers of its slots, in order. Kernels in the same module are called directly (LLVM may
inline them). `Arena` is one 64-byte aligned allocation that a memory plan carves into
buffers by offset.
"""
import ctypes

import numpy as np


class Step:
    """One call of an entry. A plain class, not a NamedTuple (~0.15 ms to make) or a frozen
    dataclass (~0.5 ms): this module is imported on a warm process's first compiled call."""

    __slots__ = ("kernel", "slots")

    def __init__(self, kernel, slots):
        self.kernel = kernel  # a kernel function `void @kernel(ptr args)` of the module
        self.slots = slots    # indices into the entry's slot array, in argument order

    def __repr__(self):
        return f"Step({self.kernel!r}, {self.slots!r})"


def emit_entry(module, name, steps, n_slots):
    # Imported here: the runtime half of this module (Arena, BoundCall) runs in warm
    # processes, which must not pay for importing llvmlite.ir.
    from llvmlite import ir

    from graphkit.codegen.llvm_types import I64, PTR, VOID

    fn = ir.Function(module, ir.FunctionType(VOID, [PTR]), name)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    slots = fn.args[0]
    for step in steps:
        if any(not 0 <= s < n_slots for s in step.slots):
            raise ValueError(f"entry {name!r}: step {step.kernel!r} uses slots {step.slots}, "
                             f"but there are {n_slots}")
        try:
            kernel = module.get_global(step.kernel)
        except KeyError:
            raise ValueError(f"entry {name!r}: no kernel {step.kernel!r} in the module") from None
        arr = b.alloca(PTR, size=I64(len(step.slots)))
        for k, s in enumerate(step.slots):
            p = b.load(b.gep(slots, [I64(s)], source_etype=PTR), typ=PTR)
            b.store(p, b.gep(arr, [I64(k)], source_etype=PTR))
        b.call(kernel, [arr])
    b.ret_void()
    return fn


class BoundCall:
    """A native `void f(ptr *args)` with its argument pointers bound once."""

    def __init__(self, fn, buffers):
        self._fn = fn
        self._keep = list(buffers)  # the arrays must outlive the pointers
        self._ptrs = (ctypes.c_void_p * max(1, len(buffers)))(
            *[_address(x) for x in buffers])
        self._addr = ctypes.addressof(self._ptrs)

    def rebind(self, index, buffer):
        """Point slot `index` at another buffer (e.g. a new input array)."""
        self._keep[index] = buffer
        self._ptrs[index] = _address(buffer)

    def __call__(self):
        self._fn(self._addr)


def _address(x):
    if isinstance(x, np.ndarray):
        if not x.flags.c_contiguous:
            raise ValueError("BoundCall: buffers must be C-contiguous arrays, received a "
                             f"non-contiguous array of shape {x.shape}")
        return x.ctypes.data
    if isinstance(x, Arena):
        return x.address
    return int(x)


class Arena:
    """One 64-byte aligned byte buffer; `view(offset, shape, dtype)` gives typed windows."""

    ALIGN = 64

    def __init__(self, nbytes):
        self.nbytes = int(nbytes)
        self._raw = np.zeros(self.nbytes + self.ALIGN, dtype=np.uint8)
        start = (-self._raw.ctypes.data) % self.ALIGN
        self.buffer = self._raw[start:start + self.nbytes]
        self.address = self.buffer.ctypes.data

    def view(self, offset, shape, dtype):
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        end = offset + count * dtype.itemsize
        if offset % dtype.itemsize or end > self.nbytes:
            raise ValueError(f"Arena.view: [{offset}, {end}) of {dtype} does not fit an arena "
                             f"of {self.nbytes} bytes (or is misaligned)")
        return self.buffer[offset:end].view(dtype).reshape(shape)

    def pointer(self, offset):
        return self.address + int(offset)
