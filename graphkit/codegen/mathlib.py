"""Vectorizable transcendental functions in LLVM IR: no libm call in a hot loop.

`MathLib(module).call(builder, name, x)` computes `name(x)` for `x` a float32 or float64
scalar or vector (`<N x float>`, `<N x double>`). Each (function, type) pair is emitted once
per module as an internal always-inline function named `gk.math.<name>.<type>`, so after
inlining the loop vectorizer and the SLP vectorizer see plain arithmetic.

Methods (polynomial coefficients were fitted offline: iteratively reweighted least squares on
Chebyshev nodes, in 50-digit arithmetic, for the relative error of the result):
- exp: x = n ln2 + r (Cody-Waite, FMA; n = rint(x/ln2) read from the bits of x/ln2 + 1.5 2^mant,
  no conversion), exp(r) = 1 + r + r^2 P(r) by Horner, times 2^n built from bits in two steps
  (one step and a constant 2^-k for x <= 0, as in sigmoid and erf) so that subnormal results
  are rounded once. Clamps are compare-selects (one vmaxps each, NaN kept); NaN propagates
  through the products, so no select restores it.
- log: x = m 2^e with m in [sqrt(1/2), sqrt(2)); float32: f = m - 1, log(1+f) = f + f^2 Q(f);
  float64: s = f/(2+f), log(1+f) = f - s (f - T(s^2)). Subnormal inputs are scaled first.
- log1p: u = 1 + x, log(u) + (x - (u - 1))/u (the rounding error of u, corrected).
- tanh: float32: sign(x) (1 - e)/(1 + e), e = exp(-2|x|) = 2^n (1 + expm1(r)): numerator and
  denominator are one fma each, no select (small |x| has n = 0, where 1 - e = -expm1(r)); a
  rational x P(x^2)/Q(x^2) (fitted, degree 11/8, 0.04 ulp in exact arithmetic) is cheaper
  but its float32 evaluation errs by up to 4.8 ulp. float64: x + x^3 P(x^2) for |x| < 0.625,
  else sign(x) (1 - 2/(exp(2|x|) + 1)).
- sigmoid: e = exp(-|x|), (x >= 0 ? 1 : e) / (1 + e), both scaled by 2^k (e 2^k is one fma
  with a normal power of two): one division, no overflow, exact tails.
- quotients: tanh (float32) and sigmoid are given as (num, den) too (`MathLib.quotient`), so
  that a product of two of them is one division (expr.py; `PRODUCT_ULP_BOUND`).
- the expm1 polynomials are evaluated as Horner's rule in r^2 over pairs (`poly_pairs`):
  as many fmas as Horner's rule, half the dependent chain (W2: 3.5% faster).
- erf: x P(x^2) for |x| < 1, else sign(x) (1 - exp(-x^2) Q(|x|)) with Q = erfc(x) exp(x^2).
- sin, cos: evaluated in float64 (float32 inputs too). x = k pi/2 + r: Cody-Waite in float64
  (float64 inputs: 4-part, with r kept as a double-double) for |x| < 2^19 pi/2; beyond,
  Payne-Hanek reduction with exact integer arithmetic against 1216 bits of 2/pi (a cold
  scalar path, taken only when some lane needs it). Taylor polynomials to degree 17/18.

Documented error bounds, in ulps of the result's dtype, against NumPy float64 (float32) or
extended-precision (x87 long double) references (float64), over the whole input range
including subnormals, infinities, NaN and signed zeros (tests/codegen/test_mathlib.py
asserts each one):
"""
import functools

from llvmlite import ir

from graphkit.codegen.llvm_types import (
    F64, I1, I32, I64, call_intrinsic, const, element_type, intrinsic, lanes_of,
    type_suffix, vector_of)

ULP_BOUNDS = {
    "float32": {"exp": 1, "log": 1, "log1p": 2, "tanh": 2, "sigmoid": 3, "erf": 3,
                "sin": 1, "cos": 1},
    "float64": {"exp": 1, "log": 2, "log1p": 2, "tanh": 2, "sigmoid": 3, "erf": 2,
                "sin": 1, "cos": 1},
}
__doc__ += "\n".join(f"    {dt}: " + ", ".join(f"{k} <= {v}" for k, v in b.items())
                     for dt, b in ULP_BOUNDS.items()) + "\n"

FUNCTIONS = ("exp", "log", "log1p", "tanh", "sigmoid", "erf", "sin", "cos")

# -- coefficients ------------------------------------------------------------------------
# exp(r) = 1 + r + r^2 P(r) on |r| <= ln2/2
EXP_P = {32: (0.49999993450796765, 0.16666520680903701, 0.04166838754459954,
              0.008368710654735457, 0.0013814604481163213),
         64: (0.5, 0.16666666666666682, 0.041666666666666095, 0.008333333333317042,
              0.0013888888889115546, 0.00019841269896361376, 2.4801586926718075e-05,
              2.755723488651041e-06, 2.755758183481439e-07, 2.5112027663427193e-08,
              2.0826614501643546e-09)}
# float32: log(1+f) = f + f^2 Q(f) on f in [sqrt(1/2)-1, sqrt(2)-1]
LOG32_Q = (-0.4999998830624446, 0.33333325496452276, -0.25001585296342127,
           0.20001985227328137, -0.16609047838625568, 0.14181622330942634,
           -0.13243032799319146, 0.12905581973310368, -0.07623031661565398)
# float64: T(z) = z G(z), G on z = s^2 in [0, (3 - 2 sqrt 2)^2]
LOG64_G = (0.6666666666666666, 0.4000000000000624, 0.28571428569086993,
           0.22222222646615064, 0.1818177568087833, 0.15387090057617295,
           0.13250134423015003, 0.13251177126487423)
# float64 tanh(x) = x + x^3 P(x^2) on |x| < 0.625
TANH64_P = (-0.33333333333333315, 0.13333333333329742, -0.05396825396605808,
            0.021869488468695478, -0.00886323431229378, 0.003592113997290131,
            -0.0014557259325921122, 0.0005894517370983081, -0.00023701156666246584,
            9.155813730854703e-05, -3.0186955455788383e-05, 6.042356209469751e-06)
TANH32_CLAMP = 9.5  # float32 tanh(x) rounds to 1 for |x| > 9.02
# erf(x) = x P(x^2) on |x| < 1
ERF_SMALL = {32: (1.128379165726632, -0.3761262582368907, 0.11283585142435969,
                  -0.026853811676817597, 0.005188327194657209, -0.0008010189311497084,
                  7.853847111675375e-05),
             64: (1.1283791670955126, -0.3761263890318352, 0.11283791670944184,
                  -0.026866170643111295, 0.005223977606117129, -0.0008548325929252512,
                  0.00012055293575116287, -1.4924712268978752e-05, 1.6447131178090045e-06,
                  -1.6206310849822503e-07, 1.371096822961609e-08, -7.779446492668877e-10)}
# erfc(x) exp(x^2) = Q(x - center) on [lo, hi): (lo, hi, center, coefficients)
ERFC_PIECES = {
    32: ((1.0, 4.0, 2.5, (0.2108063346311485, -0.07434938367545725, 0.0249295361194662,
                          -0.008000187018922541, 0.002520707716965457, -0.000649181095650614,
                          0.00022364703462753328, -0.0001362272210218191,
                          -5.778683819921474e-05, -2.7995465551798632e-05)),),
    64: ((1.0, 3.0, 2.0, (0.25539567631050536, -0.10679646185347752, 0.04180275260364353,
                          -0.015460637764738695, 0.005440738533209635, -0.0018316642736939171,
                          0.0005924700450523545, -0.00018477833973629611,
                          5.572806255561524e-05, -1.629398438379863e-05,
                          4.6288023283709975e-06, -1.278627726472896e-06,
                          3.4410740921073296e-07, -9.219221784964573e-08,
                          2.3653119289562797e-08, -4.711950935338457e-09,
                          1.5507151896553979e-09, -7.393429258058526e-10)),
         (3.0, 6.0, 4.5, (0.12248480427374686, -0.026015928632129242, 0.00541312543403068,
                          -0.0011045760814797094, 0.00022126660859109285,
                          -4.355063483949357e-05, 8.428943979927686e-06,
                          -1.6067821697606483e-06, 2.99499387516697e-07,
                          -5.612483998961313e-08, 1.1298775243198191e-08,
                          -1.2298617352025363e-10, 1.4265096964059106e-09,
                          3.276108041035844e-10, 7.303974152792238e-11))),
}


def _taylor(first, step, count):
    """Taylor coefficients of sin (first=3) or cos (first=4) in z = r^2, signs alternating."""
    out, n = [], first
    for i in range(count):
        fact = 1
        for k in range(2, n + 1):
            fact *= k
        out.append((-1) ** ((n - first) // 2 + (0 if first == 4 else 1)) / fact)
        n += step
    return tuple(out)


SIN_S = _taylor(3, 2, 8)   # sin r = r + r^3 S(r^2), S = -1/3! + z/5! - ... (to r^17)
COS_C = _taylor(4, 2, 8)   # cos r = 1 - r^2/2 + r^4 C(r^2), C = 1/4! - z/6! + ... (to r^18)


# -- 2/pi for Payne-Hanek ------------------------------------------------------------------

def _atan_inv_scaled(x, scale):
    """atan(1/x) * scale, in integers (Machin's series)."""
    total, term, n, sign = 0, scale // x, 1, 1
    x2 = x * x
    while term:
        total += sign * (term // n)
        term //= x2
        n += 2
        sign = -sign
    return total


@functools.lru_cache(maxsize=None)
def two_over_pi_words(nwords):
    """The first `nwords` 32-bit words of the binary fraction of 2/pi."""
    guard = 64
    scale = 1 << (32 * nwords + guard)
    pi_scaled = 16 * _atan_inv_scaled(5, scale) - 4 * _atan_inv_scaled(239, scale)
    frac = (2 * scale * scale // pi_scaled) >> guard  # floor(2/pi * 2^(32 n))
    return tuple((frac >> (32 * (nwords - 1 - i))) & 0xFFFFFFFF for i in range(nwords))


_PH_PAD = 2      # leading zero words so that small exponents index the table safely
_PH_WORDS = 6    # window of 2/pi multiplied at once (192 bits)
_PH_TABLE = (0,) * _PH_PAD + two_over_pi_words(40)

PIO2 = 1.5707963267948966
PIO2_LO = 6.123233995736766e-17  # pi/2 - PIO2
TWO_OVER_PI = 0.6366197723675814


def _split_pio2():
    """pi/2 as P1 + P2 + P3 (33 significant bits each) + P4 (the rest), from 2/pi's exact
    twin: the digits of pi/2 computed in integers."""
    scale = 1 << 200
    pi_scaled = 16 * _atan_inv_scaled(5, scale) - 4 * _atan_inv_scaled(239, scale)
    rest = pi_scaled // 2  # (pi/2) * 2^200
    parts = []
    for bits in (33, 33, 33):
        top = rest.bit_length()
        chunk = (rest >> (top - bits)) << (top - bits)
        parts.append(chunk / scale)
        rest -= chunk
    parts.append(rest / scale)
    return tuple(parts)


PIO2_PARTS = _split_pio2()
CW_LIMIT = 2.0 ** 19 * PIO2  # Cody-Waite is exact below this: k < 2^19, k*P_i exact


class _Ops:
    """Arithmetic on one float type (scalar or vector) with an IRBuilder, kept terse."""

    def __init__(self, builder, ty):
        self.b, self.ty = builder, ty
        self.lanes = lanes_of(ty)
        self.bits = 32 if isinstance(element_type(ty), ir.FloatType) else 64
        self.ity = vector_of(ir.IntType(self.bits), self.lanes)
        self.i32 = vector_of(I32, self.lanes)

    def c(self, v):
        return const(self.ty, v)

    def ci(self, v, ty=None):
        return const(ty or self.ity, v)

    def add(self, a, b):
        return self.b.fadd(a, b)

    def sub(self, a, b):
        return self.b.fsub(a, b)

    def mul(self, a, b):
        return self.b.fmul(a, b)

    def div(self, a, b):
        return self.b.fdiv(a, b)

    def neg(self, a):
        return self.b.fneg(a)

    def fma(self, a, b, c):
        return call_intrinsic(self.b, "fma", a, b, c)

    def poly(self, x, coeffs):
        """c0 + c1 x + c2 x^2 + ... by Horner's rule with fused multiply-adds."""
        acc = self.c(coeffs[-1])
        for coef in reversed(coeffs[:-1]):
            acc = self.fma(acc, x, self.c(coef))
        return acc

    def poly_pairs(self, x, x2, coeffs):
        """The same polynomial as `poly`, as Horner's rule in x2 = x^2 over the pairs
        (c0 + c1 x), (c2 + c3 x), ...: as many fused multiply-adds once x^2 is at hand (the
        expm1 forms need it anyway), but half the dependent chain: a long kernel (W2) is
        bound by its chains more than by its instruction count."""
        pairs = [self.fma(self.c(coeffs[i + 1]), x, self.c(coeffs[i])) if i + 1 < len(coeffs)
                 else self.c(coeffs[i]) for i in range(0, len(coeffs), 2)]
        acc = pairs[-1]
        for pair in reversed(pairs[:-1]):
            acc = self.fma(acc, x2, pair)
        return acc

    def abs(self, a):
        return call_intrinsic(self.b, "fabs", a)

    def rint(self, a):
        return call_intrinsic(self.b, "rint", a)

    def clamp(self, a, lo=None, hi=None):
        """a limited to [lo, hi], NaN kept: compare-and-select, which x86 does in one
        max/min instruction each (llvm.minnum/maxnum need three to drop the NaN)."""
        if lo is not None:
            a = self.sel(self.cmp("<", a, self.c(lo)), self.c(lo), a)
        if hi is not None:
            a = self.sel(self.cmp(">", a, self.c(hi)), self.c(hi), a)
        return a

    def xor_sign(self, a, sign):
        """a with its sign flipped where `sign` is negative: copysign for a >= +0, in two
        instructions instead of three."""
        mask = self.b.and_(self.bits_of(sign), self.ci(1 << (self.bits - 1)))
        return self.from_bits(self.b.xor(self.bits_of(a), mask))

    def copysign(self, mag, sign):
        return call_intrinsic(self.b, "copysign", mag, sign)

    def cmp(self, op, a, b):
        return self.b.fcmp_ordered(op, a, b)

    def isnan(self, a):
        return self.b.fcmp_unordered("uno", a, a)

    def sel(self, m, a, b):
        return self.b.select(m, a, b)

    def bits_of(self, a):
        return self.b.bitcast(a, self.ity)

    def from_bits(self, i):
        return self.b.bitcast(i, self.ty)

    def pow2(self, n):
        """2^n for integer vector n in the normal exponent range."""
        mant = 23 if self.bits == 32 else 52
        bias = 127 if self.bits == 32 else 1023
        return self.from_bits(self.b.shl(self.b.add(n, self.ci(bias)), self.ci(mant)))


# -- the functions ---------------------------------------------------------------------------

def _exp_reduce(o, x, exact_ln2=True):
    """(r, t): x = n ln2 + r, |r| <= ln2/2. n = rint(x/ln2) sits in the low bits of
    t = x/ln2 + 1.5 2^mant, whose bits are those of that magic number plus n: no
    float-to-int conversion (which would make NaN lanes poison). exact_ln2=False subtracts
    n ln2 with one rounded constant, so r is off by up to |n| ulp(ln2)/2: only for a caller
    that needs exp(x) to few digits where |n| is large (tanh)."""
    if o.bits == 32:
        ln2_hi, ln2_lo, magic = 0.693359375, -2.12194440e-4, 1.5 * 2.0 ** 23
    else:
        ln2_hi, ln2_lo, magic = 6.93147180369123816490e-01, 1.90821492927058770002e-10, \
            1.5 * 2.0 ** 52
    t = o.fma(x, o.c(1.4426950408889634), o.c(magic))
    n = o.sub(t, o.c(magic))
    if exact_ln2:
        return o.fma(o.neg(n), o.c(ln2_lo), o.fma(o.neg(n), o.c(ln2_hi), x)), t
    return o.fma(o.neg(n), o.c(0.6931471805599453), x), t


def _exp_parts(o, x, exact_ln2=True, minus_one=False):
    """(y, t): exp(x) = y 2^n with y = exp(r), |r| <= ln2/2 (minus_one: y = expm1(r), to full
    relative precision); n and t as in _exp_reduce."""
    r, t = _exp_reduce(o, x, exact_ln2)
    if minus_one:
        r2 = o.mul(r, r)
        return o.fma(r2, o.poly_pairs(r, r2, EXP_P[o.bits]), r), t
    return o.poly(r, (1.0, 1.0) + EXP_P[o.bits]), t


def _pow2_of(o, t, k=0, negative=False):
    """2^(n + k) (or its negative) for n held in t's low bits (see _exp_parts), n + k in the
    normal range: shifted up by mant, the magic number's bits fall off the top and n << mant
    stays; the sign bit comes with the added exponent bias for free."""
    mant, bias = (23, 127) if o.bits == 32 else (52, 1023)
    top = (bias + k) << mant | (1 << (o.bits - 1) if negative else 0)
    return o.from_bits(o.b.add(o.b.shl(o.bits_of(t), o.ci(mant)), o.ci(top)))


def _exp(o, x):
    lo, hi = (-104.0, 89.0) if o.bits == 32 else (-746.0, 710.0)
    y, t = _exp_parts(o, o.clamp(x, lo, hi))
    magic_bits = 0x4B400000 if o.bits == 32 else 0x4338000000000000
    ni = o.b.sub(o.bits_of(t), o.ci(magic_bits))
    n1 = o.b.ashr(ni, o.ci(1))
    n2 = o.b.sub(ni, n1)
    # two power-of-two factors: each stays normal, and the second product rounds once;
    # a NaN x gives a NaN y, and NaN times the (meaningless) factors stays NaN
    return o.mul(o.mul(y, o.pow2(n1)), o.pow2(n2))


def _exp_nonpositive(o, x):
    """exp(x) for x <= 0 or NaN: 2^n = 2^(n + k) 2^-k with 2^(n + k) normal for every
    n >= -1075, so one constant factor (rounding once into the subnormals) does the work of
    _exp's two computed ones."""
    k, lo = (64, -104.0) if o.bits == 32 else (512, -746.0)
    y, t = _exp_parts(o, o.clamp(x, lo))
    return o.mul(o.mul(y, _pow2_of(o, t, k)), o.c(2.0 ** -k))


def _log_reduce(o, x):
    """x -> (e as float, f = m - 1) with x = m 2^e, m in [sqrt(1/2), sqrt(2))."""
    b = o.b
    mant = 23 if o.bits == 32 else 52
    bias = 127 if o.bits == 32 else 1023
    tiny = 1.1754943508222875e-38 if o.bits == 32 else 2.2250738585072014e-308
    sub = o.cmp("<", x, o.c(tiny))
    xs = o.sel(sub, o.mul(x, o.c(2.0 ** mant)), x)  # subnormals: scale into normal range
    eadj = o.sel(sub, o.ci(-mant), o.ci(0))
    sqrt_half_bits = 0x3F3504F3 if o.bits == 32 else 0x3FE6A09E667F3BCD
    one_bits = 0x3F800000 if o.bits == 32 else 0x3FF0000000000000
    mask = (1 << mant) - 1
    ix = b.add(o.bits_of(xs), o.ci(one_bits - sqrt_half_bits))
    e = b.add(b.sub(b.ashr(ix, o.ci(mant)), o.ci(bias)), eadj)
    m = o.from_bits(b.add(b.and_(ix, o.ci(mask)), o.ci(sqrt_half_bits)))
    return b.sitofp(e, o.ty), o.sub(m, o.c(1.0))


def _log(o, x):
    ef, f = _log_reduce(o, x)
    if o.bits == 32:
        ln2_hi, ln2_lo = 0.693359375, -2.12194440e-4
        core = o.fma(o.mul(f, f), o.poly(f, LOG32_Q), o.fma(ef, o.c(ln2_lo), f))
    else:
        ln2_hi, ln2_lo = 6.93147180369123816490e-01, 1.90821492927058770002e-10
        s = o.div(f, o.add(o.c(2.0), f))
        z = o.mul(s, s)
        t = o.mul(z, o.poly(z, LOG64_G))
        core = o.fma(ef, o.c(ln2_lo), o.sub(f, o.mul(s, o.sub(f, t))))
    y = o.fma(ef, o.c(ln2_hi), core)
    inf = o.c(float("inf"))
    y = o.sel(o.cmp("==", x, inf), inf, y)
    y = o.sel(o.cmp("==", x, o.c(0.0)), o.c(float("-inf")), y)
    return o.sel(o.b.fcmp_unordered("<", x, o.c(0.0)), o.c(float("nan")), y)


def _log1p(o, x):
    u = o.add(o.c(1.0), x)
    correction = o.div(o.sub(x, o.sub(u, o.c(1.0))), u)
    y = o.add(_log(o, u), correction)
    tiny = 2.0 ** -25 if o.bits == 32 else 2.0 ** -54
    y = o.sel(o.cmp("<", o.abs(x), o.c(tiny)), x, y)       # keeps -0 and subnormals
    y = o.sel(o.cmp("==", x, o.c(float("inf"))), x, y)
    y = o.sel(o.cmp("==", x, o.c(-1.0)), o.c(float("-inf")), y)
    return o.sel(o.b.fcmp_unordered("<", x, o.c(-1.0)), o.c(float("nan")), y)


def _tanh(o, x):
    if o.bits == 32:
        return o.div(*_tanh32_quotient(o, x))
    a = o.abs(x)
    small = o.fma(o.mul(x, o.mul(x, x)), o.poly(o.mul(x, x), TANH64_P), x)
    small = o.copysign(small, x)  # fma(-0, P, -0) would give +0
    e = _exp(o, o.add(a, a))
    big = o.copysign(o.sub(o.c(1.0), o.div(o.c(2.0), o.add(e, o.c(1.0)))), x)
    return o.sel(o.cmp("<", a, o.c(0.625)), small, big)


def _tanh32_quotient(o, x):
    """(num, den) with tanh x = num / den: tanh|x| = (1 - e) / (1 + e), e = exp(-2|x|) =
    2^n (1 + expm1(r)): numerator and denominator each formed exactly by an fma and rounded
    once (rounding e first would double its error in the quotient). Small |x| has n = 0,
    where 1 - e = -expm1(r) is as accurate as the polynomial: -0 and subnormals come out
    exact. |x| is clamped where tanh rounds to 1, so 2^n stays normal. num >= +0 takes the
    sign of x (even on zeros); den is in [1, 2].

    (Tried, slower in W2 on Zen 3: a reduction without the multiply by -2, h = |x| + n ln2/2,
    with the polynomial in h scaled by powers of two: one instruction fewer, 3% slower, its
    five coefficients besides sigmoid's spill; t = |x| (-2/ln2) + magic off -2|x|, 1% slower.
    Forming 1 -+ e as (1 -+ p -+ p r) -+ p r^2 P shortens the chain but errs by 2.8 ulp.)"""
    a = o.clamp(o.abs(x), hi=TANH32_CLAMP)
    mr, t = _exp_parts(o, o.mul(a, o.c(-2.0)), exact_ln2=False, minus_one=True)
    neg_p = _pow2_of(o, t, negative=True)
    num = o.fma(neg_p, mr, o.add(o.c(1.0), neg_p))
    den = o.fma(o.neg(neg_p), mr, o.sub(o.c(1.0), neg_p))
    return o.xor_sign(num, x), den


def _sigmoid_quotient(o, x):
    """(num, den) with sigmoid x = num / den: e = exp(-|x|), (x >= 0 ? 1 : e) / (1 + e),
    both scaled by 2^k so that e 2^k = 2^(n+k) + 2^(n+k) expm1(r) is one fma with a normal
    power of two (no second scaling multiply): the division rounds a subnormal result once.
    den is in [2^k, 2^(k+1)]; k keeps 2^(n+k) normal down to the clamp (n >= -150 and
    -1076), and a product of two dens far from overflow."""
    k, lo = (32, -104.0) if o.bits == 32 else (64, -746.0)
    r, t = _exp_reduce(o, o.clamp(o.neg(o.abs(x)), lo))
    r2 = o.mul(r, r)
    pk = _pow2_of(o, t, k)
    # 2^(n+k) (1 + r + r^2 P(r)) as pk r^2 P + (pk r + pk): the polynomial's chain ends in
    # one fma, not two (2.5% faster in W2; float32: 2.64 ulp over all inputs, was 2.40).
    # The old form, exp(-|x|) = Horner's 1 + r + ... times 2^(n+k) times 2^-k, made W2
    # 13% slower on Zen 3: two multiplies at the end of the longest chain.
    e_k = o.fma(o.mul(pk, r2), o.poly_pairs(r, r2, EXP_P[o.bits]), o.fma(pk, r, pk))
    # x < 0 read from the sign bit: x86 blends on it directly, no compare (-0 and NaN give
    # 1/2 and NaN either way)
    negative = o.b.icmp_signed("<", o.bits_of(x), o.ci(0))
    return o.sel(negative, e_k, o.c(2.0 ** k)), o.add(o.c(2.0 ** k), e_k)


def _sigmoid(o, x):
    return o.div(*_sigmoid_quotient(o, x))


def _erf(o, x):
    a = o.abs(x)
    small = o.mul(x, o.poly(o.mul(x, x), ERF_SMALL[o.bits]))
    pieces = ERFC_PIECES[o.bits]
    q = None
    for lo, hi, center, coeffs in pieces:  # piecewise Q(|x|), clamped to its interval
        t = o.sub(o.clamp(a, lo, hi), o.c(center))
        val = o.poly(t, coeffs)
        q = val if q is None else o.sel(o.cmp("<", a, o.c(lo)), q, val)
    erfc = o.mul(_exp_nonpositive(o, o.neg(o.mul(a, a))), q)
    big = o.copysign(o.sub(o.c(1.0), erfc), x)
    return o.sel(o.cmp("<", a, o.c(1.0)), small, big)


# -- sin / cos -------------------------------------------------------------------------------

_PH_RESULT = ir.LiteralStructType([I32, F64, F64])


def _rem_pio2_function(module):
    """Scalar Payne-Hanek: {q, hi, lo} with |x| = q pi/2 + hi + lo (then signed like x).

    x = M 2^E exactly (M < 2^53). The product M * (2/pi) is formed in integers against a
    192-bit window of 2/pi chosen so that the bits dropped above it only add multiples of 4
    (whole turns); the binary point of the product sits at bit `sh` of that window.
    """
    name = "gk.math.rem_pio2"
    try:
        return module.get_global(name)
    except KeyError:
        pass
    table_ty = ir.ArrayType(I32, len(_PH_TABLE))
    table = ir.GlobalVariable(module, table_ty, "gk.math.two_over_pi")
    table.global_constant = True
    table.linkage = "internal"
    table.initializer = ir.Constant(table_ty, [ir.Constant(I32, w) for w in _PH_TABLE])

    fn = ir.Function(module, ir.FunctionType(_PH_RESULT, [F64]), name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    fn.attributes.add("nounwind")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    x = fn.args[0]
    i128, i256 = ir.IntType(128), ir.IntType(256)
    bits = b.bitcast(x, I64)
    expo = b.trunc(b.and_(b.lshr(bits, I64(52)), I64(0x7FF)), I32)
    mant = b.or_(b.and_(bits, I64((1 << 52) - 1)), I64(1 << 52))
    e = b.sub(expo, I32(1075))
    i0 = b.ashr(b.sub(e, I32(2)), I32(5))
    m_hi = b.lshr(mant, I64(32))
    m_lo = b.and_(mant, I64(0xFFFFFFFF))
    prod = ir.Constant(i256, 0)
    for j in range(_PH_WORDS):
        idx = b.add(i0, I32(_PH_PAD + j))
        word = b.zext(b.load(b.gep(table, [I32(0), idx], inbounds=True), typ=I32), I64)
        part = b.add(b.shl(b.zext(b.mul(m_hi, word), i256), ir.Constant(i256, 32)),
                     b.zext(b.mul(m_lo, word), i256))
        prod = b.add(prod, b.shl(part, ir.Constant(i256, 32 * (_PH_WORDS - 1 - j))))
    sh = b.sub(b.mul(b.add(i0, I32(_PH_WORDS)), I32(32)), e)
    q = b.trunc(b.and_(b.lshr(prod, b.zext(sh, i256)), ir.Constant(i256, 3)), I32)
    frac = b.trunc(b.lshr(prod, b.zext(b.sub(sh, I32(128)), i256)), i128)
    neg = b.icmp_signed("<", frac, ir.Constant(i128, 0))  # fraction >= 1/2: next quadrant
    q = b.add(q, b.zext(neg, I32))
    mag = b.select(neg, b.sub(ir.Constant(i128, 0), frac), frac)
    ctlz = intrinsic(module, "llvm.ctlz.i128", i128, [i128, I1])
    lz = b.call(ctlz, [mag, I1(0)])
    zero = b.icmp_unsigned("==", mag, ir.Constant(i128, 0))
    norm = b.shl(mag, b.select(zero, ir.Constant(i128, 0), lz))
    top = b.trunc(b.lshr(norm, ir.Constant(i128, 64)), I64)
    nxt = b.trunc(norm, I64)
    t_hi = b.uitofp(b.and_(top, I64(~0x7FF & 0xFFFFFFFFFFFFFFFF)), F64)  # 53 bits: exact
    t_lo = b.fadd(b.uitofp(b.and_(top, I64(0x7FF)), F64),
                  b.fmul(b.uitofp(nxt, F64), F64(2.0 ** -64)))
    fma = intrinsic(module, "llvm.fma.f64", F64, [F64, F64, F64])
    r_hi = b.fmul(t_hi, F64(PIO2))
    r_err = b.call(fma, [t_hi, F64(PIO2), b.fneg(r_hi)])
    r_lo = b.fadd(r_err, b.fadd(b.fmul(t_hi, F64(PIO2_LO)), b.fmul(t_lo, F64(PIO2))))
    hi = b.fadd(r_hi, r_lo)
    lo = b.fsub(r_lo, b.fsub(hi, r_hi))
    # scale 2^(-64-lz) (the fraction's weight), exact; zero fraction gives zero
    scale_exp = b.sub(I64(1023 - 64), b.trunc(lz, I64))
    scale = b.bitcast(b.shl(scale_exp, I64(52)), F64)
    scale = b.select(zero, F64(0.0), scale)
    sign = b.select(b.xor(neg, b.fcmp_ordered("<", x, F64(0.0))), F64(-1.0), F64(1.0))
    hi = b.fmul(b.fmul(hi, scale), sign)
    lo = b.fmul(b.fmul(lo, scale), sign)
    q = b.select(b.fcmp_ordered("<", x, F64(0.0)), b.sub(I32(0), q), q)
    res = b.insert_value(ir.Constant(_PH_RESULT, ir.Undefined), b.and_(q, I32(3)), 0)
    res = b.insert_value(res, hi, 1)
    b.ret(b.insert_value(res, lo, 2))
    return fn


def _two_sum(o, a, b):
    s = o.add(a, b)
    bb = o.sub(s, a)
    err = o.add(o.sub(a, o.sub(s, bb)), o.sub(b, bb))
    return s, err


def _reduce_pio2(o, x, precise):
    """(q as i32 vector, r_hi, r_lo): x = q pi/2 + r, |r| <= pi/4 (o is float64)."""
    b = o.b
    k = o.rint(o.mul(x, o.c(TWO_OVER_PI)))
    nk = o.neg(k)
    p1, p2, p3, p4 = PIO2_PARTS
    if precise:  # double-double remainder: exact products, tracked rounding errors
        a = o.fma(nk, o.c(p1), x)
        r, e1 = _two_sum(o, a, o.mul(nk, o.c(p2)))
        r, e2 = _two_sum(o, r, o.mul(nk, o.c(p3)))
        tail = o.add(o.add(e1, e2), o.mul(nk, o.c(p4)))
        hi = o.add(r, tail)
        lo = o.sub(tail, o.sub(hi, r))
    else:
        hi = o.fma(nk, o.c(p3 + p4), o.fma(nk, o.c(p2), o.fma(nk, o.c(p1), x)))
        lo = o.c(0.0)
    q = b.trunc(b.fptosi(k, o.ity), o.i32) if o.lanes > 1 else b.fptosi(k, I32)
    ax = o.abs(x)
    big = b.and_(o.cmp(">", ax, o.c(CW_LIMIT)), o.cmp("<", ax, o.c(float("inf"))))
    return _payne_hanek_lanes(o, x, big, (q, hi, lo))


def _payne_hanek_lanes(o, x, big, fast):
    """Replace the lanes flagged `big` by the scalar Payne-Hanek result (a cold branch)."""
    b = o.b
    fn = _rem_pio2_function(b.module)
    if o.lanes > 1:
        reduce_or = intrinsic(b.module, f"llvm.vector.reduce.or.{type_suffix(big.type)}",
                              I1, [big.type])
        any_big = b.call(reduce_or, [big])
    else:
        any_big = big
    entry = b.block
    with b.if_then(any_big, likely=False):
        slow_block = b.block
        safe = o.sel(big, x, o.c(CW_LIMIT * 2))
        outs = list(fast)
        for lane in range(o.lanes):
            xi = b.extract_element(safe, I32(lane)) if o.lanes > 1 else safe
            res = b.call(fn, [xi])
            for slot in range(3):
                val = b.extract_value(res, slot)
                outs[slot] = (b.insert_element(outs[slot], val, I32(lane))
                              if o.lanes > 1 else val)
        outs = [b.select(big, s, f) for s, f in zip(outs, fast)]
        slow_block = b.block
    merged = []
    for s, f in zip(outs, fast):
        phi = b.phi(f.type)
        phi.add_incoming(f, entry)
        phi.add_incoming(s, slow_block)
        merged.append(phi)
    return merged


def _sincos_poly(o, hi, lo):
    """(sin r, cos r) for r = hi + lo, |r| <= pi/4."""
    z = o.mul(hi, hi)
    s = o.mul(o.mul(z, hi), o.poly(z, SIN_S))
    sin_r = o.add(hi, o.add(s, o.mul(lo, o.sub(o.c(1.0), o.mul(o.c(0.5), z)))))
    hz = o.mul(o.c(0.5), z)
    w = o.sub(o.c(1.0), hz)
    tail = o.sub(o.fma(o.mul(z, z), o.poly(z, COS_C), o.sub(o.sub(o.c(1.0), w), hz)),
                 o.mul(hi, lo))
    return sin_r, o.add(w, tail)


def _sin_or_cos(o, x, which):
    """sin or cos, evaluated in float64 whatever x's type."""
    b = o.b
    if o.bits == 32:
        d = _Ops(b, vector_of(F64, o.lanes))
        xd = b.fpext(x, d.ty)
    else:
        d, xd = o, x
    q, hi, lo = _reduce_pio2(d, xd, precise=(o.bits == 64))
    sin_r, cos_r = _sincos_poly(d, hi, lo)
    qty = q.type
    if which == "cos":
        q = b.add(q, const(qty, 1))
    odd = b.icmp_unsigned("!=", b.and_(q, const(qty, 1)), const(qty, 0))
    negate = b.icmp_unsigned("!=", b.and_(q, const(qty, 2)), const(qty, 0))
    # cos(x) = sin(x + pi/2): quadrant q+1 of the sine table
    val = b.select(odd, cos_r, sin_r)
    val = b.select(negate, d.neg(val), val)
    if which == "sin":  # tiny |x|: sin x = x (keeps -0 and subnormals)
        val = b.select(d.cmp("<", d.abs(xd), d.c(2.0 ** -27)), xd, val)
    inf = d.cmp("==", d.abs(xd), d.c(float("inf")))
    val = b.select(inf, d.c(float("nan")), val)
    val = b.select(d.isnan(xd), xd, val)
    return b.fptrunc(val, o.ty) if o.bits == 32 else val


# Functions whose value is a quotient num/den (of float bits: 32, 64), with a `den` that
# cannot overflow or vanish (a bounded positive range): a product of two such values can be
# formed as one division (expr.py), num1 num2 / (den1 den2).
QUOTIENTS = {"tanh": {32: _tanh32_quotient}, "sigmoid": {32: _sigmoid_quotient,
                                                          64: _sigmoid_quotient}}


# The one-division product f(u) g(v) errs by no more than the separate product may: the
# factors' bounds plus half an ulp for its rounding (tests/codegen/test_quotient_product.py).
PRODUCT_ULP_BOUND = {
    dt: {(f, g): bounds[f] + bounds[g] + 0.5 for f in QUOTIENTS for g in QUOTIENTS
         if bits in QUOTIENTS[f] and bits in QUOTIENTS[g]}
    for dt, bits, bounds in (("float32", 32, ULP_BOUNDS["float32"]),
                             ("float64", 64, ULP_BOUNDS["float64"]))}


def has_quotient(name, dtype):
    """True when MathLib.quotient gives `name` over `dtype` ("float32", "float64")."""
    return {"float32": 32, "float64": 64}.get(dtype) in QUOTIENTS.get(name, {})


_BODIES = {
    "exp": _exp, "log": _log, "log1p": _log1p, "tanh": _tanh, "sigmoid": _sigmoid,
    "erf": _erf, "sin": lambda o, x: _sin_or_cos(o, x, "sin"),
    "cos": lambda o, x: _sin_or_cos(o, x, "cos"),
}


class MathLib:
    """Emits the math functions into one llvmlite module, each (name, type) once."""

    def __init__(self, module):
        self.module = module

    def function(self, name, ty):
        if name not in _BODIES:
            raise ValueError(f"mathlib: unknown function {name!r}; expected one of "
                             f"{', '.join(FUNCTIONS)}")
        if not isinstance(element_type(ty), (ir.FloatType, ir.DoubleType)):
            raise TypeError(f"mathlib.{name}: expected a float32/float64 scalar or vector "
                            f"type, received {ty}")
        symbol = f"gk.math.{name}.{type_suffix(ty)}"
        try:
            return self.module.get_global(symbol)
        except KeyError:
            pass
        fn = ir.Function(self.module, ir.FunctionType(ty, [ty]), symbol)
        fn.linkage = "internal"
        fn.attributes.add("alwaysinline")
        fn.attributes.add("nounwind")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        b.ret(_BODIES[name](_Ops(b, ty), fn.args[0]))
        return fn

    def quotient(self, builder, name, x):
        """(num, den) with name(x) = num / den (see QUOTIENTS), at the builder's position."""
        ty = x.type
        bits = 32 if isinstance(element_type(ty), ir.FloatType) else 64
        form = QUOTIENTS.get(name, {}).get(bits)
        if form is None:
            raise ValueError(f"mathlib: {name} over {ty} has no quotient form; those with "
                             f"one: {', '.join(QUOTIENTS)}")
        symbol = f"gk.math.{name}.quotient.{type_suffix(ty)}"
        try:
            fn = self.module.get_global(symbol)
        except KeyError:
            pair = ir.LiteralStructType([ty, ty])
            fn = ir.Function(self.module, ir.FunctionType(pair, [ty]), symbol)
            fn.linkage = "internal"
            fn.attributes.add("alwaysinline")
            fn.attributes.add("nounwind")
            b = ir.IRBuilder(fn.append_basic_block("entry"))
            num, den = form(_Ops(b, ty), fn.args[0])
            b.ret(b.insert_value(b.insert_value(ir.Constant(pair, ir.Undefined), num, 0),
                                 den, 1))
        res = builder.call(fn, [x])
        return builder.extract_value(res, 0), builder.extract_value(res, 1)

    def call(self, builder, name, x):
        """name(x) at the builder's position; x: float32/float64 scalar or vector."""
        return builder.call(self.function(name, x.type), [x])
