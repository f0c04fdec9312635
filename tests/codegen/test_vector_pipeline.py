"""VECTOR's short pass pipeline (hand-vectorized chunks): it still inlines the math helpers
(alwaysinline), promotes the loop counters' allocas and folds constant arithmetic, and the
code it gives computes what O3's does."""
import ctypes

import numpy as np
from llvmlite import ir

from graphkit.codegen import build, engine, pipeline
from graphkit.codegen.llvm_types import F32, I64, PTR, VOID


def _module():
    """`void scale(ptr x)`: x[i] = helper(x[i]) for i < 16, counter in an alloca;
    helper(v) = v * (2 + 1), alwaysinline."""
    m = ir.Module(name="vector_pipeline")
    helper = ir.Function(m, ir.FunctionType(F32, [F32]), "helper")
    helper.attributes.add("alwaysinline")
    helper.linkage = "internal"
    b = ir.IRBuilder(helper.append_basic_block("entry"))
    three = b.fadd(ir.Constant(F32, 2.0), ir.Constant(F32, 1.0))
    b.ret(b.fmul(helper.args[0], three))
    fn = ir.Function(m, ir.FunctionType(VOID, [PTR]), "scale")
    entry, head, body, done = (fn.append_basic_block(n) for n in ("entry", "head", "body",
                                                                    "done"))
    b = ir.IRBuilder(entry)
    i = b.alloca(I64, name="i")
    b.store(I64(0), i)
    b.branch(head)
    b.position_at_end(head)
    b.cbranch(b.icmp_signed("<", b.load(i, typ=I64), I64(16)), body, done)
    b.position_at_end(body)
    k = b.load(i, typ=I64)
    p = b.gep(fn.args[0], [k], source_etype=F32)
    b.store(b.call(helper, [b.load(p, typ=F32)]), p)
    b.store(b.add(k, I64(1)), i)
    b.branch(head)
    b.position_at_end(done)
    b.ret_void()
    return m


def test_the_vector_pipeline_inlines_helpers_and_promotes_counters():
    mod = pipeline.optimize(pipeline.parse(str(_module()), "vp"), pipeline.VECTOR)
    text = str(mod.get_function("scale"))
    assert "alloca" not in text and "call" not in text


def test_vector_code_computes_what_full_code_does():
    x = np.arange(16, dtype=np.float32)
    results = []
    for level in (pipeline.VECTOR, pipeline.FULL):
        obj = build.compile_module(_module(), f"vp{level}", level)
        lib = engine.load_object(obj, ["scale"], f"vp{level}")
        y = x.copy()
        lib.function("scale", None, ctypes.c_void_p)(y.ctypes.data)
        results.append(y)
    np.testing.assert_array_equal(results[0], x * 3)
    np.testing.assert_array_equal(results[1], x * 3)
