"""`gk.ir`: the typed graph IR that layer code is traced into, and what works on it.

    graph = gk.ir.trace(fn, *args)         # Graph: params, nodes in SSA/topological order
    text = str(graph); gk.ir.parse(text)   # exact inverses
    gk.ir.verify(graph); gk.ir.interpret(graph, *arrays)
    gk.ir.grad_graph(graph)                # reverse-mode autodiff as a graph transform
    gk.ir.run_pipeline(graph, "canonicalize,simplify,constant_fold,cse,dce,fusion")
"""
from graphkit.ir.autodiff import grad_graph, replay
from graphkit.ir.graph import Graph, Node, Value
from graphkit.ir.interpreter import interpret
from graphkit.ir.kernel import KernelInfo
from graphkit.ir.parser import ParseError, parse
from graphkit.ir.passes import DEFAULT_PIPELINE, run_pipeline
from graphkit.ir.printer import print_graph
from graphkit.ir.tracer import Trace, Tracer, TracerError, trace, trace_function
from graphkit.ir.types import TensorType
from graphkit.ir.verifier import VerificationError, verify

__all__ = ["DEFAULT_PIPELINE", "Graph", "KernelInfo", "Node", "ParseError", "TensorType",
           "Trace", "Tracer", "TracerError", "Value", "VerificationError", "grad_graph",
           "interpret", "parse", "print_graph", "replay", "run_pipeline", "trace",
           "trace_function", "verify"]
