"""A download that Maven Central refuses is one clear error, and leaves no half-filled cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from courtbus.errors import StackError
from courtbus.stack.artifacts import POMS, ensure_kafka

pytestmark = pytest.mark.integration


def test_unknown_kafka_version_fails_clearly(tmp_path: Path) -> None:
    pom = tmp_path / "kafka.xml"
    pom.write_text(
        (POMS / "kafka.xml").read_text().replace("<kafka.version>4.1.2<", "<kafka.version>0.0.404<")
    )
    with pytest.raises(StackError) as info:
        ensure_kafka(tmp_path / "cache", pom)
    assert info.value.code == "STACK_DOWNLOAD_FAILED"
    assert "kafka" in info.value.reason and "0.0.404" in info.value.reason
    assert not (tmp_path / "cache" / "kafka-0.0.404" / ".complete").exists()
