"""Philox-4x32-10 random bits in native code, bit for bit the stream of
graphkit/ops/random.py (`random_bits`): flat element i of the output is word i % 4 of the
block for the counter (b & 0xffffffff, b >> 32, 0, 0), b = i // 4, key (k0, k1).

    emit_random_bits(module, "rb0", shape=(128, 512))

Kernel ABI: `void @rb0(ptr args)`, args = [key (2 x uint32), out (uint32, C order)].
`lanes` blocks are computed at once (32x32 -> 64-bit products in vector registers), their
4 words interleaved by shuffles and stored (masked for the last, partial group).
"""
import math

from llvmlite import ir

from graphkit.codegen import loops, parallel
from graphkit.codegen.elementwise import KernelSpec, default_lanes
from graphkit.codegen.llvm_types import I32, I64, const, iota, splat, vector_of
from graphkit.ops.random import (
    PHILOX_M0, PHILOX_M1, PHILOX_ROUNDS, PHILOX_W0, PHILOX_W1)


def philox_rounds(b, counter, key, lanes):
    """The block function on vectors of `lanes` blocks: counter 4 x <lanes x i32>, key 2 x
    <lanes x i32> -> 4 x <lanes x i32>."""
    v64 = vector_of(I64, lanes)
    v32 = vector_of(I32, lanes)
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for r in range(PHILOX_ROUNDS):
        if r:
            k0 = b.add(k0, const(v32, PHILOX_W0))
            k1 = b.add(k1, const(v32, PHILOX_W1))
        p0 = b.mul(b.zext(c0, v64), const(v64, PHILOX_M0))
        p1 = b.mul(b.zext(c2, v64), const(v64, PHILOX_M1))
        hi0, lo0 = b.trunc(b.lshr(p0, const(v64, 32)), v32), b.trunc(p0, v32)
        hi1, lo1 = b.trunc(b.lshr(p1, const(v64, 32)), v32), b.trunc(p1, v32)
        c0, c1, c2, c3 = b.xor(b.xor(hi1, c1), k0), lo1, b.xor(b.xor(hi0, c3), k1), lo0
    return c0, c1, c2, c3


def _interleave(b, words, lanes):
    """4 vectors of per-block words -> one vector in memory order (w0 w1 w2 w3 of block 0...)."""
    def zip2(x, y, n, width):  # interleave groups of `width` lanes
        idx = []
        for g in range(n // width):
            idx += [g * width + t for t in range(width)]
            idx += [n + g * width + t for t in range(width)]
        return b.shuffle_vector(x, y, ir.Constant(ir.VectorType(I32, 2 * n), idx))
    v01 = zip2(words[0], words[1], lanes, 1)
    v23 = zip2(words[2], words[3], lanes, 1)
    return zip2(v01, v23, 2 * lanes, 2)


def emit_random_bits(module, name, shape, lanes=None, parallel_ok=None):
    n = math.prod(shape)
    lanes = lanes or default_lanes()
    n_blocks = -(-n // 4)
    groups = -(-n_blocks // lanes)
    if parallel_ok is None:
        parallel_ok = n * 4 * 8 >= parallel.MIN_PARALLEL_WORK

    def body(b, args, tid, nth):
        key_ptr = loops.arg_pointer(b, args, 0)
        out = loops.arg_pointer(b, args, 1)
        k0 = splat(b, b.load(key_ptr, typ=I32), lanes)
        k1 = splat(b, b.load(b.gep(key_ptr, [I64(1)], source_etype=I32), typ=I32), lanes)
        g0, g1 = parallel.split_range(b, tid, nth, I64(groups))
        v64 = vector_of(I64, lanes)
        with loops.for_range(b, g0, g1, name="g") as g:
            first = b.mul(g, I64(lanes))
            blocks = b.add(splat(b, first, lanes), iota(v64))
            lo = b.trunc(blocks, vector_of(I32, lanes))
            hi = b.trunc(b.lshr(blocks, const(v64, 32)), vector_of(I32, lanes))
            zero = const(vector_of(I32, lanes), 0)
            words = philox_rounds(b, (lo, hi, zero, zero), (k0, k1), lanes)
            flat = _interleave(b, words, lanes)
            start = b.mul(first, I64(4))
            dst = b.gep(out, [start], source_etype=I32)
            remaining = b.sub(I64(n), start)
            full = b.icmp_signed(">=", remaining, I64(4 * lanes))
            with b.if_else(full) as (then, otherwise):
                with then:
                    b.store(flat, dst, align=4)
                with otherwise:
                    mask = loops.lane_mask(b, remaining, 4 * lanes)
                    loops.masked_store(b, flat, dst, "uint32", mask, 4 * lanes)

    loops.define_kernel(module, name, body, parallel_ok and groups > 1)
    return KernelSpec(name, 1, 1, parallel_ok)


__all__ = ["emit_random_bits", "philox_rounds"]
