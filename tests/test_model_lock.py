"""The model's lock: one job at a time, in arrival order, with the queue visible and a wait that ends."""

import threading
import time

import pytest

from core import EmotionLensError, score
from core.model_lock import ModelLock


def _hold(lock, started, release):
    with lock:
        started.set()
        release.wait(30)


def test_waiters_see_how_many_are_ahead_and_are_served_in_arrival_order():
    lock, started, release = ModelLock(timeout=30), threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(lock, started, release))
    holder.start()
    started.wait(10)
    seen, order = {}, []

    def wait(name):
        lock.acquire(on_wait=lambda ahead: seen.setdefault(name, []).append(ahead))
        order.append(name)
        lock.release()

    first = threading.Thread(target=wait, args=("first",))
    first.start()
    while lock.ahead() < 2:
        time.sleep(0.01)
    second = threading.Thread(target=wait, args=("second",))
    second.start()
    while lock.ahead() < 3:
        time.sleep(0.01)
    release.set()
    for t in (holder, first, second):
        t.join(10)
    assert order == ["first", "second"]
    assert seen["first"] == [1] and seen["second"][0] == 2  # "queued behind 1", "queued behind 2"
    assert lock.ahead() == 0


def test_a_wait_ends_with_one_clear_message_and_leaves_the_queue():
    lock, started, release = ModelLock(timeout=0.3), threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(lock, started, release))
    holder.start()
    started.wait(10)
    with pytest.raises(EmotionLensError, match="the model is busy: 1 request ahead of yours after 0 s"):
        lock.acquire()
    assert lock.ahead() == 1  # only the holder: the one who gave up is gone from the queue
    release.set()
    holder.join(10)
    with lock:  # free again
        pass


def test_a_job_may_take_the_lock_again_inside_itself_but_not_release_anothers():
    lock = ModelLock()
    with lock, lock:
        assert lock.ahead() == 0  # its own holder is never queued behind itself
    errors = []
    with lock:
        t = threading.Thread(target=lambda: errors.append(pytest.raises(RuntimeError, lock.release)))
        t.start()
        t.join(10)
    assert errors


def test_a_reading_queued_behind_anothers_gets_its_own_result(lm, ev):
    """The lock in place on the real model: a second user's reading waits, then reads as alone."""
    alone = score(lm, ev, "I am terrified of the dark.").z
    started, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(lm.lock, started, release))
    holder.start()
    started.wait(10)
    out, seen = {}, []

    def read():
        lm.lock.acquire(on_wait=seen.append)
        try:
            out["z"] = score(lm, ev, "I am terrified of the dark.").z
        finally:
            lm.lock.release()

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)
    assert "z" not in out and seen == [1]
    release.set()
    holder.join(10)
    reader.join(60)
    assert (out["z"] == alone).all()
