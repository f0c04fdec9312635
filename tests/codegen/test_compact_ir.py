"""The IR text stays small: vector constants print as `zeroinitializer` / `poison` /
`splat (...)` (and LLVM reads them as the per-lane constants), and loops whose bounds are
known when emitting get only the parts that run."""
from llvmlite import ir

from graphkit.codegen import loops, pipeline
from graphkit.codegen import expr as ex
from graphkit.codegen.elementwise import Operand, default_lanes, emit_elementwise
from graphkit.codegen.llvm_types import F32, I32, I64, PTR, VOID, const, poison, splat
from graphkit.codegen.parallel_compile import compile_text
from graphkit.codegen.target import llvm


def test_vector_constants_print_compactly():
    v16 = ir.VectorType(F32, 16)
    assert str(const(v16, 0.0)) == "<16 x float> zeroinitializer"
    assert str(const(ir.VectorType(I32, 4), 0)) == "<4 x i32> zeroinitializer"
    assert "zeroinitializer" not in str(const(v16, -0.0))    # -0.0 is not all-zero bits
    one = str(const(v16, 1.0))
    if tuple(llvm.llvm_version_info) >= (19,):
        assert one == "<16 x float> splat (float 0x3ff0000000000000)"
    assert one.count("0x3ff0000000000000") in (1, 16)
    assert str(poison(v16)) == "<16 x float> poison"
    assert str(const(F32, 0.0)).split() == ["float", "0x0"]   # scalars unchanged
    # llvmlite still sees the lanes (shufflevector checks its mask's)
    assert len(const(ir.VectorType(I32, 8), 0).constant) == 8


def _module_with_constants():
    """`void f(ptr p)`: p[0:16] = splat(p[0]) * 2 + 0, -0.0 in lanes p[16:32]."""
    m = ir.Module(name="consts")
    fn = ir.Function(m, ir.FunctionType(VOID, [PTR]), "f")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    v16 = ir.VectorType(F32, 16)
    x = splat(b, b.load(fn.args[0], typ=F32), 16)
    y = b.fadd(b.fmul(x, const(v16, 2.0)), const(v16, 0.0))
    b.store(y, fn.args[0])
    b.store(const(v16, -0.0), b.gep(fn.args[0], [I64(16)], source_etype=F32))
    b.ret_void()
    return m


def test_llvm_reads_the_compact_constants():
    text = str(_module_with_constants())
    assert "zeroinitializer" in text and "poison" in text
    assert len(compile_text(text, "consts", pipeline.LIGHT, unlocked=False)) > 0


def _elementwise_text(n):
    m = ir.Module(name=f"ew{n}")
    emit_elementwise(m, "k", [Operand((n,), "float32")],
                     [ex.apply("exp", ex.input(0, "float32"))], (n,))
    return str(m.get_global("k.task"))


def test_static_vector_loops_emit_only_the_parts_that_run():
    # a multiple of the lanes: the loop, no masked tail
    lanes = default_lanes()
    whole = _elementwise_text(4 * lanes)
    assert "masked.load" not in whole and "j.head" in whole
    # fewer elements than lanes: the masked step alone, no loop
    part = _elementwise_text(lanes - 1)
    assert "masked.load" in part and "j.head" not in part
    # one vector: a single unmasked step, no loop
    one = _elementwise_text(lanes)
    assert "masked.load" not in one and "j.head" not in one


def test_a_one_iteration_range_has_no_loop():
    m = ir.Module(name="one")
    fn = ir.Function(m, ir.FunctionType(VOID, [PTR]), "f")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    seen = []
    with loops.for_range(b, 3, 4, name="i") as i:
        seen.append(i)
    with loops.for_range(b, 0, 2, name="t") as t:
        seen.append(t)
    b.ret_void()
    assert isinstance(seen[0], ir.Constant) and seen[0].constant == 3
    assert not isinstance(seen[1], ir.Constant)
    assert [blk.name for blk in fn.blocks if blk.name.startswith("i.")] == []
    assert len(compile_text(str(m), "one", pipeline.LIGHT, unlocked=False)) > 0
