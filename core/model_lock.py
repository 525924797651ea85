"""One model, many users: a first-come-first-served lock whose queue can be seen and whose wait ends.

Hooks sit on shared modules, so one request at a time may run the model (``core.hooks``). A plain
lock would leave the others waiting silently and for ever; this one lets a front end say "queued
behind 2 readings" while it waits, and gives up after ``timeout`` seconds with one clear message.
The jobs that hold it are bounded themselves (a forward pass by the model's context, generation by
``MAX_NEW_TOKENS`` and a time limit), so no job holds it for ever either. Reentrant: steering
hooks and a capture taken inside them are one job.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Callable

from .errors import EmotionLensError

QUEUE_TIMEOUT = float(os.environ.get("EMOTION_LENS_QUEUE_TIMEOUT", 180))


class ModelLock:
    def __init__(self, timeout: float = QUEUE_TIMEOUT):
        self.timeout = timeout
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._queue: deque[int] = deque()

    def ahead(self) -> int:
        """Jobs a request arriving now would wait behind (the running one and those queued)."""
        with self._cond:
            if self._owner == threading.get_ident():
                return 0
            return (self._owner is not None) + len(self._queue)

    def acquire(self, on_wait: Callable[[int], None] | None = None, timeout: float | None = None, blocking: bool = True) -> bool:
        """Take the model, in arrival order; ``on_wait(n)`` each time the number ahead changes.
        ``blocking=False`` takes it only if it is free now (as ``threading.Lock``), returning whether it did."""
        me = threading.get_ident()
        timeout = self.timeout if timeout is None else timeout
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return True
            if not blocking and (self._owner is not None or self._queue):
                return False
            self._queue.append(me)
            deadline, told = time.monotonic() + timeout, None
            try:
                while self._owner is not None or self._queue[0] != me:
                    ahead = (self._owner is not None) + self._queue.index(me)
                    if on_wait and ahead != told:
                        told = ahead
                        self._cond.release()  # the callback may draw: never while holding the condition
                        try:
                            on_wait(ahead)
                        finally:
                            self._cond.acquire()
                        continue
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise EmotionLensError(
                            f"the model is busy: {ahead} request{'s' if ahead != 1 else ''} ahead of yours after "
                            f"{timeout:.0f} s of waiting. Try again in a minute"
                        )
                    self._cond.wait(min(left, 1.0))
            except BaseException:
                self._queue.remove(me)
                self._cond.notify_all()
                raise
            self._queue.popleft()
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a model lock this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()

    def __enter__(self) -> ModelLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
