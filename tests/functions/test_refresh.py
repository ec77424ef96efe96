"""functions/predict/refresh.py: one refresh per key at a time, and a caller holding a stale copy never waits long."""

import threading

import pytest

from btf.store import StoreUnavailable
from functions.predict.refresh import STRIPES, StripedLocks, refresh

GUARD = 30  # seconds: a hang guard, never a timing assertion


def test_each_key_has_one_lock_and_latest_its_own():
    locks = StripedLocks()
    assert locks[7] is locks[7] and locks["latest"] is locks["latest"]
    assert all(locks[v] is not locks["latest"] for v in range(1000))
    assert len({id(locks[v]) for v in range(1000)}) == STRIPES  # bounded, whatever clients name


def test_without_a_copy_callers_wait_and_only_one_works():
    lock, started, release, calls, answers = threading.Lock(), threading.Event(), threading.Event(), [], []
    done = {}

    def work():
        calls.append(1)
        started.set()
        release.wait(GUARD)
        done["value"] = "loaded"
        return "loaded"

    def call():
        answers.append(refresh(lock, 1, None, lambda: done.get("value"), work, deadline=GUARD))

    threads = [threading.Thread(target=call) for _ in range(4)]
    threads[0].start()
    assert started.wait(GUARD)
    for thread in threads[1:]:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(GUARD)
    assert answers == ["loaded"] * 4 and calls == [1]


def test_with_a_copy_a_busy_refresh_serves_the_copy_at_once():
    lock = threading.Lock()
    with lock:  # another thread is refreshing
        assert refresh(lock, 1, "stale", lambda: None, lambda: pytest.fail("worked twice"), deadline=GUARD) == "stale"


def test_with_a_copy_a_slow_refresh_serves_the_copy_and_finishes_behind():
    lock, release, finished = threading.Lock(), threading.Event(), threading.Event()

    def work():
        release.wait(GUARD)
        finished.set()
        return "fresh"

    assert refresh(lock, 1, "stale", lambda: None, work, deadline=0.05) == "stale"
    release.set()
    assert finished.wait(GUARD)
    assert lock.acquire(timeout=GUARD)  # released when the work ended


def test_with_a_copy_a_failed_refresh_serves_the_copy_and_says_why(capsys):
    def work():
        raise StoreUnavailable("S3 is down")

    assert refresh(threading.Lock(), 1, "stale", lambda: None, work, deadline=GUARD) == "stale"
    assert "S3 is down" in capsys.readouterr().out


def test_without_a_copy_a_caller_stops_waiting_for_a_stuck_refresh():
    lock = threading.Lock()
    # Another thread has been loading for too long.
    with lock, pytest.raises(StoreUnavailable, match="too long"):
        refresh(lock, 1, None, lambda: None, lambda: pytest.fail("worked"), deadline=0.05)
