"""Load native code into the process and look up its symbols.

Object code (just emitted, or read from the disk cache) is loaded by graphkit's own ELF loader
(object_loader.py) on x86-64 Linux: a warm process then never loads LLVM at all (~25 ms).
Elsewhere, or when the loader refuses an object (a feature it does not implement), the object
is linked by LLVM's ORC LLJIT instead, imported on first use. Cold and warm processes load
the same object bytes the same way, so they run the same code.

Every loaded unit is a `Library`; its code stays mapped while the `Library` (or any function
made from it) is referenced. Libraries may call into the C library and into graphkit's
runtime library (the thread pool), whose symbols are resolved by name at load time.
"""
import ctypes
import itertools
import threading

from graphkit.codegen import object_loader

_lock = threading.RLock()
_state = {"jit": None}
_names = itertools.count()
# name -> address of symbols that every library may call (the runtime thread pool...).
_RUNTIME_SYMBOLS = {}
# How many units each linker loaded in this process (tests: the native loader is used).
STATS = {"native": 0, "lljit": 0}


def jit():
    """The process-wide LLJIT (created on first use)."""
    with _lock:
        if _state["jit"] is None:
            import llvmlite.binding as llvm

            from graphkit.codegen.target import host_target
            _state["jit"] = llvm.create_lljit_compiler(host_target().target_machine)
        return _state["jit"]


def register_runtime_symbol(name, address):
    """Make `name` resolvable from every library linked from now on."""
    _RUNTIME_SYMBOLS[name] = int(address)


class Library:
    """A linked unit of native code. Keep it alive while any of its functions may run.

    `owner` holds the mapping (an object_loader.Image or an LLJIT resource tracker)."""

    def __init__(self, owner, addresses, label):
        self._owner = owner
        self.label = label
        self.addresses = addresses

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


def _link_lljit(add_unit, exports, label):
    import llvmlite.binding as llvm

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
        STATS["lljit"] += 1
    return Library(tracker, {name: tracker[name] for name in exports}, label)


def _load_native(objects, exports, label):
    """The unit loaded by object_loader, or None when it must go to LLJIT."""
    if not object_loader.supported_host():
        return None
    try:
        image = object_loader.load(objects, _RUNTIME_SYMBOLS, label)
    except object_loader.UnsupportedObject:
        return None
    missing = [name for name in exports if image.symbols.get(name) is None]
    if missing:
        raise KeyError(f"library {label!r}: its objects define no symbol {missing}; they "
                       f"define {sorted(image.symbols)}")
    STATS["native"] += 1
    return Library(image, {name: image.symbols[name] for name in exports}, label)


def load_objects(objects, exports, label="kernel", native=True):
    """Load several objects as one library (they may call each other's symbols).

    A corrupt object raises object_loader.CorruptObject (a ValueError); it is never run.
    native=False links with LLJIT (tests compare the two)."""
    objects = list(objects)
    lib = _load_native(objects, exports, label) if native else None
    if lib is not None:
        return lib

    def add(builder):
        for obj in objects:
            builder.add_object_img(bytes(obj))
    return _link_lljit(add, exports, label)


def load_object(obj_bytes, exports, label="kernel", native=True):
    """Load object code (bytes from the disk cache or from `emit_object`)."""
    return load_objects([obj_bytes], exports, label, native)
