"""SipHash-2-4, the keyed 64-bit hash behind TensorFlow's
`tf.strings.to_hash_bucket_strong` (which Keras's Hashing and lookup layers use when given
a `salt`): a bit-exact copy keeps graphkit's salted buckets equal to Keras's. Python ints
masked to 64 bits stand in for C's wrapping uint64 arithmetic.
"""
import struct

_MASK = (1 << 64) - 1


def _rotl(v, shift):
    return ((v << shift) | (v >> (64 - shift))) & _MASK


def _sip_round(v0, v1, v2, v3):
    v0 = (v0 + v1) & _MASK
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & _MASK
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & _MASK
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & _MASK
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def _blocks(s):
    """The message's 8-byte little-endian words; the last carries the length in its top
    byte (SipHash's padding)."""
    tail_start = len(s) - len(s) % 8
    words = list(struct.unpack_from(f"<{tail_start // 8}Q", s))
    last = int.from_bytes(s[tail_start:], "little") | ((len(s) & 0xFF) << 56)
    return words + [last]


def siphash64(key, data):
    """SipHash-2-4 of `data` (bytes, or a str taken as UTF-8) under `key`, a pair of
    64-bit ints (negative ones taken modulo 2**64, as TensorFlow's uint64 cast does)."""
    s = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    k0, k1 = (int(k) & _MASK for k in key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D,
         k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]
    for m in _blocks(s):
        v[3] ^= m
        for _ in range(2):
            v = list(_sip_round(*v))
        v[0] ^= m
    v[2] ^= 0xFF
    for _ in range(4):
        v = list(_sip_round(*v))
    return v[0] ^ v[1] ^ v[2] ^ v[3]
