"""Every `courtbus ...` command the code prints (and the demo's closing lines) exists as written."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperArgument, TyperOption

from courtbus.app.cli.main import app
from courtbus.app.demo import closing_lines, stopped_early_line
from courtbus.app.demo_services import SERVICES
from courtbus.config import REPO_ROOT

HINT = re.compile(r"`(?:[A-Z_]+=\S+ )*(courtbus [^`]+)`")


def _strings(path: Path) -> list[str]:
    """Every string constant in a module (f-strings' literal parts included), docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def _hints() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in sorted((REPO_ROOT / "courtbus").rglob("*.py")):
        for text in _strings(path):
            for hint in HINT.findall(text):
                found.append((str(path.relative_to(REPO_ROOT)), hint))
    return found


def check_hint(hint: str) -> None:
    """Raise AssertionError unless ``hint`` names a registered command with known options."""
    words = shlex.split(hint.replace("<", "'<").replace(">", ">'"))
    assert words[0] == "courtbus", hint
    cmd: Any = typer.main.get_command(app)
    rest = words[1:]
    while hasattr(cmd, "commands"):  # a group
        assert rest, f"{hint!r}: names a group, not a command"
        sub = cmd.commands.get(rest[0])
        assert sub is not None, f"{hint!r}: no command {rest[0]!r} (have {sorted(cmd.commands)})"
        cmd, rest = sub, rest[1:]
    options = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    flags = {
        o
        for p in cmd.params
        if isinstance(p, TyperOption) and p.is_flag
        for o in (*p.opts, *p.secondary_opts)
    }
    arguments = [p for p in cmd.params if isinstance(p, TyperArgument)]
    positional = 0
    i = 0
    while i < len(rest):
        word = rest[i]
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            assert name in options, f"{hint!r}: no option {name} (have {sorted(options)})"
            if name not in flags and "=" not in word:
                i += 1  # its value
        else:
            positional += 1
        i += 1
    assert positional <= len(arguments), (
        f"{hint!r}: {positional} argument(s), takes {len(arguments)}"
    )


def test_the_code_prints_hints() -> None:
    hints = {h for _, h in _hints()}
    assert "courtbus stack up" in hints and "courtbus topics apply" in hints


@pytest.mark.parametrize(("where", "hint"), _hints())
def test_every_printed_hint_is_a_real_command(where: str, hint: str) -> None:
    check_hint(hint)


@pytest.mark.parametrize(
    "hint",
    [
        "courtbus stack stop",
        "courtbus delegation send --as 1 --frobnicate",
        "courtbus inbox 1 2",
        "courtbus delegation",
        "courtbus serve gateway --home x",
    ],
)
def test_a_wrong_hint_is_caught(hint: str) -> None:
    with pytest.raises(AssertionError):
        check_hint(hint)


def test_demo_says_what_keeps_running_and_how_to_stop_or_restart_it() -> None:
    lines = closing_lines(12.3)
    text = "\n".join(lines)
    assert lines[0] == "done in 12.3s"
    assert "Kafka and the registry are still running" in text
    assert "`courtbus stack down`" in text
    assert "services have stopped" in text
    for name in SERVICES:
        assert f"`courtbus serve {name}`" in text
    for hint in HINT.findall(text):
        check_hint(hint)


def test_demo_hints_name_a_non_default_stack_home(tmp_path: Path) -> None:
    text = "\n".join([*closing_lines(1.0, tmp_path), stopped_early_line(tmp_path)])
    assert f"`courtbus stack down --home {tmp_path}`" in text
    assert f"`COURTBUS_STACK_HOME={tmp_path} courtbus serve gateway`" in text
    hints = HINT.findall(text)
    assert len(hints) == 2 + len(SERVICES)  # stack down twice, one serve per service
    for hint in hints:
        check_hint(hint)


def test_the_flow_demo_explore_hints_name_a_non_default_stack_home(tmp_path: Path) -> None:
    from courtbus.app.demo_flow import explore_line
    from courtbus.config import default_stack_home

    text = explore_line(tmp_path)
    assert f"`COURTBUS_STACK_HOME={tmp_path} courtbus delegation list`" in text
    hints = HINT.findall(text)
    assert len(hints) == 9  # delegation, dlq, restrictions, watchdog, feed, distribution, inbox
    for hint in hints:
        check_hint(hint)
    assert "COURTBUS_STACK_HOME" not in explore_line(default_stack_home())
