"""What the demo says at its end is what is left running (no stack started: Stack is faked)."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from courtbus.app import demo
from courtbus.errors import ClusterError


class _FakeStack:
    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def up(self) -> Any:
        return SimpleNamespace(
            bootstrap="127.0.0.1:1", registry_url="http://127.0.0.1:1", secure=False,
            admin_password=None,
        )  # fmt: skip


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=300, color_system=None), buffer


def test_the_end_of_the_demo_says_what_runs_and_what_stopped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(demo, "Stack", _FakeStack)
    monkeypatch.setattr(demo, "_run_on_stack", lambda *_a: None)
    out, buffer = _console()
    demo.run_demo(out, tmp_path, 9092, 8081)
    text = buffer.getvalue()
    assert (
        f"Kafka and the registry are still running: stop them with `courtbus stack down --home {tmp_path}`"
        in text
    )
    assert "services have stopped" in text
    assert f"`COURTBUS_STACK_HOME={tmp_path} courtbus serve projector`" in text


def test_a_demo_that_fails_says_the_stack_is_still_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unreachable(*_a: Any) -> Any:
        raise ClusterError("cannot reach Kafka at 127.0.0.1:1: down", code="CLUSTER_UNREACHABLE")

    monkeypatch.setattr(demo, "Stack", _FakeStack)
    monkeypatch.setattr(demo.ops, "plan_topics", unreachable)
    out, buffer = _console()
    with pytest.raises(ClusterError):
        demo.run_demo(out, None, 9092, 8081)
    text = buffer.getvalue()
    assert "the demo stopped early; Kafka and the registry are still running" in text
    assert "`courtbus stack down`" in text
    assert "done in" not in text
