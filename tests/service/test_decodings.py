"""Batch reads' decodings (service.cache.decodings): the same stored bytes
of a key give back the same decoding, anything else is decoded anew, and
what is kept stays within its bound."""

from __future__ import annotations

from service.cache import codec, decodings
from service.cache.decodings import Decodings


def stored(body: bytes, content_type: str = "text/plain") -> bytes:
    return codec.encode(body, content_type, codec.new_stamp(1_700_000_000.0, 60_000))


def test_equal_bytes_reuse_the_decoding_and_other_bytes_are_decoded_again() -> None:
    kept = Decodings()
    raw = stored(b"v1")
    first = kept.decode("k", raw)
    assert first == codec.decode(raw)
    assert kept.kept["k"] == (raw, first)
    again = stored(b"v2")
    assert kept.decode("k", again) == codec.decode(again)
    assert kept.kept["k"][0] is again  # the key's last bytes only
    assert len(kept) == 1


def test_undecodable_bytes_are_a_miss_and_are_not_kept() -> None:
    kept = Decodings()
    assert kept.decode("k", b"\x09not ours") is None
    assert len(kept) == 0


def test_what_is_kept_stays_within_its_bytes_and_large_values_are_not_kept() -> None:
    kept = Decodings(max_bytes=1_000)
    for i in range(50):
        kept.decode(f"k{i}", stored(b"v" * 100))
        assert kept._bytes <= 1_000
    assert 0 < len(kept) < 50
    large = stored(b"x" * (decodings.MAX_VALUE_BYTES + 1))
    assert Decodings().decode("big", large) == codec.decode(large)
    big = Decodings()
    big.decode("big", large)
    assert len(big) == 0
