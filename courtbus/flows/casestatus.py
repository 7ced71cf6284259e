"""Case status (案件状态): filed, concluded, resumed, suspended; read by the watchdog
(``services.watchdog``), which has no events of its own: the flow has no service.

Its ``FlowSpec``: pure data, registered in ``courtbus/flows/__init__.py``.
"""

from __future__ import annotations

from courtbus.flows.spec import FlowSpec, MessageSpec

KEY = "case_number"


def _m(
    name: str,
    event: str,
    sender: str | None = None,
    field: str | None = None,
    *,
    key: str = KEY,
    subject: str | None = None,
) -> MessageSpec:
    return MessageSpec(name, event, key, subject, sender, field)


SPEC = FlowSpec(
    name="casestatus",
    messages=(
        _m("CaseFiled", "filed", "court", "court", subject="case_number"),
        _m("CaseConcluded", "concluded", "court", "court", subject="case_number"),
        _m("CaseResumed", "resumed", "court", "court", subject="case_number"),
        _m("CaseSuspended", "suspended", "court", "court", subject="case_number"),
        _m("CaseWatchdogAlert", "watchdog_alert", subject="case_number"),
    ),
    steps="courtbus.sdk.casestatus:CaseStatusClient",
)
