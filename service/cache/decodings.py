"""The decoding of each key's last stored bytes read by a batch (`_mget`'s
Redis part, service.cache.batch_reads), reused for the same bytes.

    a key's reply ─► equal to the bytes kept for that key ─► their decoding
                  └► otherwise ─► codec.decode, kept for the key (values up
                     to MAX_VALUE_BYTES; all dropped at once past MAX_BYTES)

Redis is still read every time, and a decoding is reused only for bytes
equal to those it was made from (compared in full), so it never answers
anything Redis did not just return: a memo of a pure function, not a copy
of what Redis holds. It is kept by key alone (equal bytes decode alike in
any namespace). Reused, the value is also the very same bytes object as
before, which is what lets the answer reuse its JSON fragment
(service.http.batch_fragments).
"""

from __future__ import annotations

from service.cache import codec
from service.cache.codec import Decoded

# What is kept, all told: the stored bytes and the value sliced from them.
MAX_BYTES = 8 << 20
# Larger values are decoded every time: comparing and copying one costs
# about what decoding it does, and a few would fill the bound.
MAX_VALUE_BYTES = 64 << 10


class Decodings:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        # key -> (the stored bytes, their decoding); read by the batch loop.
        self.kept: dict[str, tuple[bytes, Decoded]] = {}
        self._bytes = 0

    def decode(self, key: str, raw: bytes) -> Decoded | None:
        """`raw`'s decoding (None: undecodable), kept for `key`."""
        try:
            decoded = codec.decode(raw)
        except codec.UndecodableValue:
            return None
        if len(raw) > MAX_VALUE_BYTES:
            return decoded
        size = 2 * len(raw)
        if self._bytes + size > self.max_bytes:
            self.kept.clear()
            self._bytes = 0
        old = self.kept.get(key)
        if old is not None:
            self._bytes -= 2 * len(old[0])
        self.kept[key] = (raw, decoded)
        self._bytes += size
        return decoded

    def __len__(self) -> int:
        return len(self.kept)
