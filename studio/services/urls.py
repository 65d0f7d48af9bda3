"""Time-limited file URLs, cached below their expiry.

A new signature on every rerun would change each thumbnail's `src`, so the browser would fetch every image
again and every rerun would send new deltas. The cache hands back the same URL for a storage key until it is
`reuse_for` seconds old, always well before the URL itself expires. Only URL strings are kept, never bytes,
and only for keys a caller was already allowed to see (the services look the keys up by owner or share link).
Each process has one cache, `Services.files`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from studio.adapters.storage import ObjectStorage

#: A signed-in owner's thumbnails and images: valid an hour, handed out again for 45 minutes.
PRIVATE_LIFETIME = 3600
#: Files shown on a public share page expire quickly: a copied link stops working within minutes.
SHARED_LIFETIME = 300
MAX_ENTRIES = 50_000


@dataclass(frozen=True)
class _Policy:
    lifetime: int
    reuse_for: int


PRIVATE = _Policy(PRIVATE_LIFETIME, PRIVATE_LIFETIME * 3 // 4)
SHARED = _Policy(SHARED_LIFETIME, SHARED_LIFETIME // 2)


class UrlCache:
    """URLs by (policy, key, download name), least recently used evicted past MAX_ENTRIES; thread-safe."""

    def __init__(self, storage: ObjectStorage, clock: Callable[[], float] = time.monotonic) -> None:
        self._storage = storage
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[int, str, str | None], tuple[str, float]] = OrderedDict()

    def url(self, key: str, policy: _Policy = PRIVATE, download_name: str | None = None) -> str:
        entry_key = (policy.lifetime, key, download_name)
        now = self._clock()
        with self._lock:
            found = self._entries.get(entry_key)
            if found is not None and now - found[1] < policy.reuse_for:
                self._entries.move_to_end(entry_key)
                return found[0]
        url = self._storage.url(key, policy.lifetime, download_name=download_name)
        with self._lock:
            self._entries[entry_key] = (url, now)
            self._entries.move_to_end(entry_key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        return url

    def forget(self, keys: list[str]) -> None:
        """Drop the URLs of deleted objects."""
        gone = set(keys)
        with self._lock:
            for entry_key in [entry for entry in self._entries if entry[1] in gone]:
                del self._entries[entry_key]
