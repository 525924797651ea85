import numpy as np

from core.byte_cache import ByteCache


def test_the_cache_keeps_what_fits_by_bytes_and_drops_the_least_recently_used():
    cache = ByteCache(3_000, lambda a: a.nbytes)
    calls = []
    make = lambda k, n: lambda: calls.append(k) or np.zeros(n, np.uint8)
    cache.get("a", make("a", 1_000))
    cache.get("b", make("b", 1_000))
    cache.get("a", make("a", 1_000))  # a is now the most recent
    cache.get("c", make("c", 1_500))  # over 3,000: b, the least recent, goes
    assert calls == ["a", "b", "c"] and cache.bytes == 2_500 and len(cache) == 2
    cache.get("b", make("b", 1_000))
    assert calls[-1] == "b" and cache.bytes <= 3_000
    big = cache.get("huge", make("huge", 10_000))  # larger than the whole budget: returned, never kept
    assert big.nbytes == 10_000 and cache.bytes <= 3_000 and calls.count("huge") == 1
    cache.get("huge", make("huge", 10_000))
    assert calls.count("huge") == 2
