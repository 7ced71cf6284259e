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
            bootstrap="127.0.0.1:1",
            registry_url="http://127.0.0.1:1",
            secure=False,
            admin_password=None,
        )


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=300, color_system=None), buffer


def test_the_end_of_the_demo_says_what_runs_and_what_stopped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(demo, "Stack", _FakeStack)
    monkeypatch.setattr(demo, "_run_on_stack", lambda *_a, **_kw: None)
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


def test_the_restriction_summary_masks_ids_and_lists_every_answer() -> None:
    from courtbus.app.demo_restriction import Control, RestrictionOutcome, print_restrictions

    exit_ban = Control(
        "rc-x-exit", "EXIT_BAN", ("nia",), {"nia": "NIA-1"}, ["nia: 罗湖口岸 PREVENTED"], ["nia"]
    )
    spend = Control(
        "rc-x-spend",
        "CONSUMPTION_BAN",
        ("caac", "rail"),
        {"rail": "R-2", "caac": "C-1"},
        [],
        ["rail", "caac"],
    )
    out, buffer = _console()
    print_restrictions(
        out,
        RestrictionOutcome(
            "(2024)苏05执1号", [exit_ban, spend], ["restriction:rc-x-exit"], 1, 2, 6.0
        ),
    )
    text = buffer.getvalue()
    assert "320583199303121234" not in text and "320583********1234" in text
    assert "caac (C-1), rail (R-2)" in text and "caac, rail" in text
    assert "nia: 罗湖口岸 PREVENTED" in text
    assert "1 alert(s) listing restriction:rc-x-exit before the lifts; 2 in all" in text


def test_the_plan_table_shows_costs_classes_amounts_and_masked_claimants() -> None:
    from courtbus.app import demo_distribution as dd

    claims = (
        dd.Claimed("c-bank", "320583", dd.BANK, "600000.00", "SECURED"),
        dd.Claimed("c-wang", "6101", dd.WANG, "300000.00"),
    )
    plan = {
        "plan_version": 1,
        "proceeds": "700000.00",
        "costs": "10000.00",
        "costs_paid": "10000.00",
        "surplus": "0.00",
        "objection_deadline": "2026-12-14",
        "allocations": [
            {
                "claim_id": "c-bank",
                "claim_class": "PRIORITY",
                "priority_kind": "SECURED",
                "rank": 1,
                "admitted": "600000.00",
                "allocated": "600000.00",
            },
            {
                "claim_id": "c-wang",
                "claim_class": "ORDINARY",
                "priority_kind": None,
                "rank": 0,
                "admitted": "300000.00",
                "allocated": "90000.00",
            },
        ],
    }
    out, buffer = _console()
    dd.print_participation(out, dd.ParticipationOutcome("dist-x", claims, plan, {"6101": 1}))
    text = buffer.getvalue()
    assert "SECURED rank 1" in text and "90,000.00" in text and "10,000.00" in text
    assert dd.WANG["id_number"] not in text and "610102********0015" in text
    assert dd.PARTNERSHIP["id_number"] not in text  # the debtor, on the surplus row


def test_a_scene_that_waits_in_vain_says_what_it_waited_for() -> None:
    from courtbus.app.demo_restriction import wait_for
    from courtbus.errors import StackError

    with pytest.raises(StackError) as caught:
        wait_for(lambda: None, 0.1, "the lift of rc-1 on nia's feed")
    assert caught.value.code == "DEMO_FAILED" and "the lift of rc-1 on nia's feed" in str(
        caught.value
    )


def test_the_end_of_the_demo_names_every_service_it_ran() -> None:
    from courtbus.app.demo_services import SERVICES

    assert {"restriction", "watchdog", "distribution"} <= set(SERVICES)
    said = " ".join(demo.closing_lines(1.0))
    assert all(f"courtbus serve {name}`" in said for name in SERVICES)
