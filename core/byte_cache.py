"""A least-recently-used cache bounded by bytes: what one busy server may keep of users' passes.

The viewer keeps every layer's residual stream per transcript (about 0.14 GB for 2,000 tokens on
SmolLM2), so a bound by entries says nothing about memory; this one counts what each entry holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


class ByteCache(Generic[V]):
    def __init__(self, max_bytes: int, size: Callable[[V], int]):
        self.max_bytes, self._size = int(max_bytes), size
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached value, or ``compute()``'s, kept if it fits (oldest entries make room)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        value = compute()  # outside the lock: the model's own lock orders the work
        n = self._size(value)
        with self._lock:
            if key not in self._items and n <= self.max_bytes:
                self._items[key] = (value, n)
                self.bytes += n
                while self.bytes > self.max_bytes:
                    _, (_, dropped) = self._items.popitem(last=False)
                    self.bytes -= dropped
        return value

    def __len__(self) -> int:
        return len(self._items)
