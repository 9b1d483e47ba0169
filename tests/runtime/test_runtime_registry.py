"""The runtime registry: the setting picks the implementation, each made once, others can be added."""

from __future__ import annotations

import pytest

from forager.config import reset_settings
from forager.errors import InvalidInput
from forager.runtime import get_runtime, register
from forager.runtime.local import LocalRuntime
from forager.runtime.registry import FACTORIES


def test_the_setting_picks_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_RUNTIME", "local")
    reset_settings()
    rt = get_runtime()
    assert isinstance(rt, LocalRuntime) and get_runtime("local") is rt


def test_register_and_unknown_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FACTORIES, "fake", LocalRuntime)
    made = LocalRuntime()
    register("fake", lambda: made)
    assert get_runtime("fake") is made
    with pytest.raises(InvalidInput, match="unknown runtime"):
        get_runtime("podman")
