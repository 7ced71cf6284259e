"""``Sent`` names the record's key whatever the flow; ``delegation_id`` is a deprecated alias."""

from __future__ import annotations

import pytest

from courtbus.sdk import Sent
from courtbus.sdk.court import Sent as SentFromCourt


def test_sent_holds_the_key_of_any_flow() -> None:
    sent = Sent("ev-1", "bl-newbie-1", 2, 17)
    assert sent.key == "bl-newbie-1"
    assert repr(sent) == "Sent(event_id='ev-1', key='bl-newbie-1', partition=2, offset=17)"
    assert SentFromCourt is Sent


def test_delegation_id_still_reads_the_key_with_a_deprecation_warning() -> None:
    sent = Sent("ev-1", "dlg-1", 0, 0)
    with pytest.warns(DeprecationWarning, match="Sent.key"):
        assert sent.delegation_id == "dlg-1"
    assert isinstance(Sent.delegation_id, property) and Sent.delegation_id.fset is None
