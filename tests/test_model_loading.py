"""The app's model load in the background gives way to the first page (app_pages/shared.py).

The load waits until the Draw page's canvas has reported back (``page_on_screen``), or at most
``PAGE_ON_SCREEN_WAIT_S``; a page that waits for the model starts it at once.
"""

from __future__ import annotations

import time

import pytest

from app_pages import shared


@pytest.fixture
def page_not_yet_on_screen(monkeypatch):
    monkeypatch.setattr(shared, "_page_on_screen", shared.threading.Event())
    monkeypatch.setattr(shared, "PAGE_ON_SCREEN_WAIT_S", 60.0)


def test_the_load_waits_for_the_page_and_starts_when_it_is_on_screen(page_not_yet_on_screen, tiny_run):
    loading = shared.ModelLoading(str(tiny_run))
    time.sleep(1.0)
    assert not loading.done  # a one-epoch LeNet loads in well under a second once it may
    shared.page_on_screen()
    assert loading.recognizer(wait=True) is not None
    assert loading.done and not loading.failed


def test_the_load_does_not_wait_for_ever(monkeypatch, tiny_run):
    monkeypatch.setattr(shared, "_page_on_screen", shared.threading.Event())
    monkeypatch.setattr(shared, "PAGE_ON_SCREEN_WAIT_S", 0.2)
    loading = shared.ModelLoading(str(tiny_run))
    assert loading.recognizer(wait=True) is not None  # no report ever came: it loaded anyway
