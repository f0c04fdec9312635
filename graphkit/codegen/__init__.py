"""LLVM code generation: native building blocks that the IR lowering glues together.

Layers of this package, bottom up:
- target.py, pipeline.py, engine.py, disk_cache.py, build.py: from LLVM IR text to callable
  native code (optimize at -O3, emit object code, cache it on disk, load it with LLJIT);
- llvm_types.py, loops.py, mathlib.py: IR-building helpers (types, loop nests, vectorizable
  transcendental functions);
- elementwise.py, reduction.py, matmul.py, philox.py: emitters, one per kernel family;
- parallel.py: the native two-thread pool that big kernels split their outer loop over;
- runtime.py: an entry function bound once and called with one ctypes call per step.
"""
