"""FarmHash Fingerprint64 and SipHash-2-4 against answers computed with TensorFlow 2.21
('tf.fingerprint' with method "farmhash64", 'tf.strings.to_hash_bucket_fast' and
'tf.strings.to_hash_bucket_strong'), pinned here so no test needs TensorFlow."""
import pytest

from graphkit.layers.preprocessing.farmhash import fingerprint64
from graphkit.layers.preprocessing.siphash import siphash64


def message(n):
    """Deterministic bytes of length n (the same ones fed to TensorFlow)."""
    return bytes((i * 37 + n) % 256 for i in range(n))


# tf.fingerprint(...) read as a little-endian uint64. Lengths cover every code path:
# 0 (empty), 1-3, 4-7, 8-16, 17-32, 33-64, and the 64-byte loop (one and several blocks).
FINGERPRINTS = {
    0: 0x9ae16a3b2f90404f, 1: 0x47a24c13b17e583e, 2: 0x2fc9608ba44d8f4,
    3: 0x122fe5ab4ecfb1e6, 4: 0xa287078f860b7e33, 7: 0x9973b8199e43c7cc,
    8: 0xd3d2fd5846306608, 15: 0xe98025ce297b1f04, 16: 0x3c36c4e2d1fceef4,
    17: 0x26bc0468c6bb6bd5, 24: 0x3f44c18287098d79, 31: 0xe7fa81df2ec95e48,
    32: 0xd8a8e27ed9bd6ce8, 33: 0x204bad37461d76d5, 48: 0xc85b4c98bec2da9c,
    63: 0xf22d9051783b57e0, 64: 0xf96c26fdfe6f54af, 65: 0xebc047182c187656,
    100: 0xc9ef698f26dde197, 127: 0xf093962a5a048b5c, 128: 0xf795d5f230985ece,
    129: 0x57c74ec6ef753e58, 200: 0xfc16b4eb77d10ae8,
}


@pytest.mark.parametrize("n", sorted(FINGERPRINTS))
def test_fingerprint64_matches_tensorflow(n):
    assert fingerprint64(message(n)) == FINGERPRINTS[n]


def test_text_is_hashed_as_utf8_like_to_hash_bucket_fast():
    # tf.strings.to_hash_bucket_fast(texts, 1000)
    expected = {"": 263, "a": 939, "hello": 296, "héllo wörld": 627,
                "The quick brown fox jumps over the lazy dog": 284}
    for text, bucket in expected.items():
        assert fingerprint64(text) % 1000 == bucket
        assert fingerprint64(text.encode("utf-8")) % 1000 == bucket


# tf.strings.to_hash_bucket_strong(message(n), 2**63 - 1, key)
SIPHASH_BUCKETS = {
    (0, 0): {0: 2202906307356721367, 3: 7141043615951039004, 7: 474447199417280436,
             8: 4452086455202749641, 16: 5079184722323357139, 17: 8320111002917652288,
             64: 2403500126889464654, 200: 4289472080776425622},
    (1, 2): {0: 443797209252341628, 1: 4365220300980176642, 8: 2941003518997879850,
             15: 2734355960590508761, 33: 8107912188071847655, 65: 2087094113608440455,
             129: 8770045286662495187},
    # A negative int64 key word is its uint64 bit pattern, as in TensorFlow.
    (-(2**63) + 5, 12345): {0: 5501423281937223237, 4: 2536560810638029159,
                            31: 7432627314050725408, 128: 5437516040357746221},
}


@pytest.mark.parametrize("key", sorted(SIPHASH_BUCKETS))
def test_siphash64_matches_tensorflow(key):
    for n, bucket in SIPHASH_BUCKETS[key].items():
        assert siphash64(key, message(n)) % (2**63 - 1) == bucket, n


def test_siphash64_key_words_wrap_to_uint64():
    assert siphash64((-(2**63) + 5, 12345), b"abc") == siphash64((2**63 + 5, 12345), b"abc")
