"""Load native code into the process with LLVM's ORC LLJIT and look up its symbols.

One LLJIT instance serves the whole process. Every compiled unit becomes a named JIT library
(a `Library`); its code stays mapped while the `Library` (or any function made from it) is
referenced. Libraries may call into the C library and into graphkit's runtime library (the
thread pool), whose symbols are resolved by name at link time, so the same object bytes can be
loaded cold (just compiled) or warm (read from the disk cache).
"""
import ctypes
import itertools
import threading

import llvmlite.binding as llvm

from graphkit.codegen.target import host_target

_lock = threading.RLock()
_state = {"jit": None}
_names = itertools.count()
# name -> address of symbols that every library may call (the runtime thread pool...).
_RUNTIME_SYMBOLS = {}


def jit():
    """The process-wide LLJIT (created on first use)."""
    with _lock:
        if _state["jit"] is None:
            _state["jit"] = llvm.create_lljit_compiler(host_target().target_machine)
        return _state["jit"]


def register_runtime_symbol(name, address):
    """Make `name` resolvable from every library linked from now on."""
    _RUNTIME_SYMBOLS[name] = int(address)


class Library:
    """A linked unit of native code. Keep it alive while any of its functions may run."""

    def __init__(self, tracker, exports, label):
        self._tracker = tracker
        self.label = label
        self.addresses = {name: tracker[name] for name in exports}

    def address(self, symbol):
        try:
            return self.addresses[symbol]
        except KeyError:
            raise KeyError(f"library {self.label!r} exports no symbol {symbol!r}; "
                           f"it exports {sorted(self.addresses)}") from None

    def function(self, symbol, restype, *argtypes):
        """A ctypes function for an exported symbol; it keeps this library alive."""
        fn = ctypes.CFUNCTYPE(restype, *argtypes)(self.address(symbol))
        fn._gk_library = self  # lifetime: the code lives as long as the callable
        return fn


def _link(add_unit, exports, label):
    builder = llvm.JITLibraryBuilder()
    add_unit(builder)
    builder.add_current_process()  # libc: memset/memcpy that LLVM may emit, pthreads
    for name, address in _RUNTIME_SYMBOLS.items():
        builder.import_symbol(name, address)
    for name in exports:
        builder.export_symbol(name)
    lib_name = f"gk_{label}_{next(_names)}"
    with _lock:
        tracker = builder.link(jit(), lib_name)
    return Library(tracker, exports, label)


def load_object(obj_bytes, exports, label="kernel"):
    """Link object code (warm path: bytes from the disk cache or from `emit_object`)."""
    return _link(lambda b: b.add_object_img(obj_bytes), exports, label)


def load_objects(objects, exports, label="kernel"):
    """Link several objects into one library (they may call each other's symbols)."""
    def add(builder):
        for obj in objects:
            builder.add_object_img(obj)
    return _link(add, exports, label)


def load_ir(ir_text, exports, label="kernel"):
    """Link LLVM IR (LLJIT compiles it without caching; used when the disk cache is off)."""
    return _link(lambda b: b.add_ir(str(ir_text)), exports, label)
