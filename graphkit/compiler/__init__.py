"""The compiler driver: `gk.jit` (graphkit/compiler/jit.py), its staged API and cache, and
the backend seam. The function `jit` is not re-exported here: it would shadow the `jit`
submodule; use `gk.jit`."""
from graphkit.compiler.executable import (CompileError, Executable, InterpreterExecutable,
                                          compile_graph, register_backend)
from graphkit.compiler.stages import Compiled, Lowered

__all__ = ["CompileError", "Compiled", "Executable", "InterpreterExecutable", "Lowered",
           "compile_graph", "register_backend"]
