"""From LLVM IR text to a loaded `Library`, through the disk cache.

    lib = build(module_or_text, exports=["my_kernel"], label="my_kernel")
    fn = lib.function("my_kernel", None, ctypes.c_void_p, ...)

Warm (the key is in the cache): read the object bytes and link them; no LLVM optimize or
codegen runs. Cold: parse, optimize at O3, emit the object once, store it, link it. Linking the
emitted object (rather than handing the IR to LLJIT with `add_ir`) means the code that runs
cold is byte for byte the code that a warm process loads, and codegen runs once, not twice.
"""
from graphkit.codegen import disk_cache, engine, pipeline


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
