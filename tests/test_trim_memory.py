"""ui.trim_memory_periodically: one background thread per server process that returns the C
heap's free pages to the OS (the load test's RSS growth over passes; README, "Load")."""
from __future__ import annotations

import ctypes
import sys
import threading

import pytest

import ui


def trimmers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "grok-malloc-trim"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_one_trimming_thread_per_process(monkeypatch):
    assert ctypes.CDLL("libc.so.6").malloc_trim(0) in (0, 1)  # the call it makes exists here
    monkeypatch.setattr(ui, "_once_done", set())
    monkeypatch.delenv("GROK_TRIM", raising=False)
    before = len(trimmers())
    ui.trim_memory_periodically(every_s=3600)
    ui.trim_memory_periodically(every_s=3600)  # a second page run: no second thread
    assert len(trimmers()) == before + 1 and all(t.daemon for t in trimmers())


def test_grok_trim_0_turns_it_off(monkeypatch):
    monkeypatch.setattr(ui, "_once_done", set())
    monkeypatch.setenv("GROK_TRIM", "0")
    before = len(trimmers())
    ui.trim_memory_periodically(every_s=3600)
    assert len(trimmers()) == before and "trim_memory" not in ui._once_done
