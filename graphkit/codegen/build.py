"""From LLVM IR text to a loaded `Library`, through the disk cache.

    lib = build(module_or_text, exports=["my_kernel"], label="my_kernel")
    fn = lib.function("my_kernel", None, ctypes.c_void_p, ...)

Warm (the key is in the cache): read the object bytes and link them; no LLVM optimize or
codegen runs. Cold: parse, optimize, emit the object once, store it, link it. Linking the
emitted object (rather than handing the IR to LLJIT with `add_ir`) means the code that runs
cold is byte for byte the code that a warm process loads, and codegen runs once, not twice.

A *unit* (`load_unit` / `build_unit`) is object code stored with a JSON layout: what its
caller needs to run it besides the code (the llvm backend's segments and scratch buffers).
A warm caller keys the unit on its own source (a graph's text), so it builds no IR at all.
A unit may hold several objects, linked together into one library.
"""
import json
import os
import struct

from graphkit.codegen import disk_cache, engine, pipeline

_UNIT_MAGIC = b"GKUNIT2\0"
_UNIT_HEADER = struct.Struct("<8sQ")   # magic, length of the JSON layout
_SIZES = "_object_sizes"               # layout key (added on store) of the objects' lengths


def build(module, exports, label="kernel", key_source=None, use_cache=True):
    """Compile (or load from cache) `module` (llvmlite.ir.Module or IR text); link it.

    key_source: the text hashed for the cache key (default: the IR text itself).
    """
    ir_text = str(module)
    if not use_cache:
        _, obj = pipeline.compile_ir(ir_text, label)
        return engine.load_object(obj, exports, label)
    key = disk_cache.cache_key(ir_text if key_source is None else key_source)
    obj = disk_cache.load(key)
    if obj is None:
        _, obj = pipeline.compile_ir(ir_text, label)
        disk_cache.store(key, obj)
    return engine.load_object(obj, exports, label)


def build_keyed(key_source, make_module, exports, label="kernel", level=pipeline.FULL):
    """Like `build`, keyed on `key_source` alone: `make_module()` (which builds the IR) runs
    only on a cache miss. For code that depends on nothing but the codegen source and the
    target (both in every key), such as the thread-pool runtime."""
    key = _keyed_key(key_source)
    obj = disk_cache.load(key)
    if obj is None:
        # in a context of its own: it may be built on a thread while a graph compiles
        from graphkit.codegen import parallel_compile
        obj = parallel_compile.compile_one(str(make_module()), label, level)
        disk_cache.store(key, obj)
    return engine.load_object(obj, exports, label)


def _keyed_key(key_source):
    return disk_cache.cache_key("graphkit keyed\n" + key_source)


def keyed_in_cache(key_source):
    """Does the disk cache hold an entry for `build_keyed(key_source, ...)` (not read, not
    checked: a corrupt one is rebuilt by `build_keyed` as usual)?"""
    return os.path.exists(disk_cache.entry_path(_keyed_key(key_source)))


def _unit_key(source):
    return disk_cache.cache_key("graphkit unit\n" + source)


def load_unit(source):
    """(layout, [object bytes]) cached for `source`, or None (absent, corrupt or foreign)."""
    key = _unit_key(source)
    payload = disk_cache.load(key)
    if payload is None:
        return None
    try:
        magic, n = _UNIT_HEADER.unpack_from(payload)
        if magic != _UNIT_MAGIC:
            raise ValueError("not a unit")
        start = _UNIT_HEADER.size + n
        layout = json.loads(payload[_UNIT_HEADER.size:start].decode("utf-8"))
        sizes = layout.pop(_SIZES)
        if sum(sizes) != len(payload) - start:
            raise ValueError("object sizes do not add up")
        objects = []
        for size in sizes:
            objects.append(payload[start:start + size])
            start += size
    except (struct.error, ValueError, UnicodeDecodeError, KeyError, TypeError):
        disk_cache.reject(key)  # well-formed entry with a foreign payload: rebuilt, rewritten
        return None
    return layout, objects


def store_unit(source, layout, objects):
    """Store `objects` (a list of object bytes) with `layout` under `source`'s key."""
    data = json.dumps(dict(layout, **{_SIZES: [len(o) for o in objects]}),
                      separators=(",", ":")).encode("utf-8")
    disk_cache.store(_unit_key(source),
                     _UNIT_HEADER.pack(_UNIT_MAGIC, len(data)) + data + b"".join(objects))


def compile_module(module, label="kernel", level=pipeline.FULL):
    """Object bytes for an llvmlite module (or IR text): one optimize and one codegen run."""
    return pipeline.compile_ir(str(module), label, level)[1]


def build_unit(module, exports, label, source, layout):
    """Compile `module`, store its object with `layout` under `source`'s key, link it."""
    _, obj = pipeline.compile_ir(str(module), label)
    store_unit(source, layout, [obj])
    return engine.load_objects([obj], exports, label)


def link_object(objects, exports, label="kernel"):
    """Link the object code (bytes, or a list of them) loaded by `load_unit`."""
    if isinstance(objects, (bytes, bytearray)):
        objects = [objects]
    return engine.load_objects(objects, exports, label)
