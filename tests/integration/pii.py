"""Finding ID numbers that were not masked, in everything a scenario left behind (issue 18,
item 6): its CLI output, every log file of its stack and services, and every record on the
cluster: every key and header of every record (a dead letter's error rides there), and every
text field of every decoded envelope payload (notices, alerts, inbox and feed records) but the
fields that carry the number on purpose (the receiver acts on it: an exit ban names the
passport). A dead letter's value is the original bytes by design, a changelog's the
service's kept state: neither is output, neither is searched.

What counts as an ID number (the shapes ``courtbus.domain.masking`` masks): an 18-character
resident ID or residence permit (17 digits and a digit or X), a 15-digit legacy ID, an old
15-character permanent-residence ID (three letters, twelve digits), and a passport or travel
permit number of the PRC's shape (one letter, eight digits). A masked number has ``*`` in it
and matches none of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient

from courtbus.bus.topics import DEADLETTER_TOPIC
from courtbus.config import Connection
from courtbus.errors import CourtbusError
from courtbus.wire.client import make_envelope, read_from_start

_EDGE_L, _EDGE_R = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
SHAPES = {
    "resident ID": re.compile(_EDGE_L + r"\d{17}[\dXx]" + _EDGE_R),
    "legacy ID": re.compile(_EDGE_L + r"\d{15}" + _EDGE_R),
    "permanent-residence ID": re.compile(_EDGE_L + r"[A-Z]{3}\d{12}" + _EDGE_R),
    "passport or permit": re.compile(_EDGE_L + r"[A-Z]\d{8}" + _EDGE_R),
}
# payload fields whose value is the number itself, for the receiver to act on
ID_FIELDS = frozenset({"id_number", "number", "legal_representative_id"})


@dataclass(frozen=True)
class Finding:
    """An unmasked number: where (a file and line, a topic record and field) and its shape."""

    where: str
    shape: str
    text: str  # the match itself: the test prints it (the suite's own samples, not real data)


def scan_text(where: str, text: str) -> list[Finding]:
    """Every unmasked number in ``text``."""
    return [
        Finding(where, shape, m.group(0))
        for shape, pattern in SHAPES.items()
        for m in pattern.finditer(text)
    ]


def scan_files(root: Path, paths: Iterable[Path]) -> Iterator[Finding]:
    """Every unmasked number in the text files ``paths`` (under ``root``), line by line."""
    for path in sorted(paths):
        with path.open(encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, start=1):
                yield from scan_text(f"{path.relative_to(root)}:{number}", line)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key not in ID_FIELDS:
                yield from _strings(inner, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, inner in enumerate(value):
            yield from _strings(inner, f"{path}[{i}]")


def scan_cluster(conn: Connection, timeout_s: float = 30) -> tuple[int, list[Finding]]:
    """(records read, findings) over every topic of the cluster but Kafka's and the
    registry's own."""
    admin = KafkaAdminClient(**conn.kafka_settings())
    try:
        topics = sorted(t for t in admin.list_topics() if not t.startswith(("__", "bus.registry")))
    finally:
        admin.close()
    envelope = make_envelope(conn)
    findings: list[Finding] = []
    count = 0
    for raw in read_from_start(conn, topics, timeout_s):
        count += 1
        where = f"{raw.topic}@{raw.partition}:{raw.offset}"
        for name, value in raw.headers or ():
            text = value.decode("utf-8", "replace") if value else ""
            findings += scan_text(f"{where} header {name}", text)
        findings += scan_text(f"{where} key", (raw.key or b"").decode("utf-8", "replace"))
        if raw.topic == DEADLETTER_TOPIC or raw.value is None:
            continue  # a dead letter keeps the original bytes, by design
        try:
            event = envelope.read(raw)
        except CourtbusError:
            continue  # not an envelope record: a changelog's state (kept data, not output)
        for path, text in _strings(event.payload, f"{where} {event.record}"):
            findings += scan_text(path, text)
    return count, findings


def summary(findings: Iterable[Finding], limit: int = 20) -> str:
    """The first findings, one a line, for an assertion message."""
    found = list(findings)
    lines = [f"{f.where}: {f.shape} {f.text}" for f in found[:limit]]
    if len(found) > limit:
        lines.append(f"… and {len(found) - limit} more")
    return "\n".join(lines)
