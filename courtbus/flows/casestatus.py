"""Case status (案件状态): filed, concluded, resumed, suspended. Its service is the watchdog
(``services.watchdog``, named for what it does): it keeps each case's status, gathers what the
case leaves in force from the other flows (list entries, restrictions, delegated freezes; over
its own topic ``bus.watchdog.items``) and alerts the handling court of what is not lifted.

Its ``FlowSpec``: pure data, registered in ``courtbus/flows/__init__.py`` after the flows
whose views and events the watchdog reads.
"""

from __future__ import annotations

from courtbus.flows.spec import FlowSpec, message_maker

KEY = "case_number"

_m = message_maker(KEY)


SPEC = FlowSpec(
    name="casestatus",
    messages=(
        _m("CaseFiled", "filed", "court", "court", subject="case_number"),
        _m("CaseConcluded", "concluded", "court", "court", subject="case_number"),
        _m("CaseResumed", "resumed", "court", "court", subject="case_number"),
        _m("CaseSuspended", "suspended", "court", "court", subject="case_number"),
        _m("CaseWatchdogAlert", "watchdog_alert", subject="case_number"),
    ),
    service="watchdog",
    service_flow="services.watchdog.flow:WatchdogFlow",
    stores=("cases", "links", "timers"),
    own_topics=("bus.watchdog.items",),
    steps="courtbus.sdk.casestatus:CaseStatusClient",
)
