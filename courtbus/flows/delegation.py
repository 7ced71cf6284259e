"""The delegation flow (事项委托): a request from one court to another, its steps and deadlines.

Its ``FlowSpec``: pure data, registered in ``courtbus/flows/__init__.py``.
"""

from __future__ import annotations

from courtbus.flows.spec import CliSpec, FlowSpec, ProjectorSpec, message_maker

KEY = "delegation_id"

_m = message_maker(KEY)


SPEC = FlowSpec(
    name="delegation",
    messages=(
        _m("DelegationRequested", "requested", "court", "requesting_court", subject="case_number"),
        _m("DelegationDelivered", "delivered"),
        _m("DelegationAccepted", "accepted", "court", "executing_court"),
        _m("DelegationRejected", "rejected", "court", "executing_court"),
        _m("DelegationProgressReported", "progress_reported", "court", "executing_court"),
        _m("DelegationCompleted", "completed", "court", "executing_court"),
        _m("DelegationFailed", "failed", "court", "executing_court"),
        _m("DelegationCancelled", "cancelled", "court", "requesting_court"),
        _m("DelegationMaterialsRequested", "materials_requested", "court", "executing_court"),
        _m("DelegationMaterialsSupplied", "materials_supplied", "court", "requesting_court"),
        _m("DelegationReturned", "returned", "court", "executing_court"),
        _m("DelegationFilesReturned", "files_returned", "court", "executing_court"),
        _m("DelegationEscalated", "escalated", "court", "requesting_court"),
        _m("DelegationEscalationAnswered", "escalation_answered", "court", "superior_court"),
        _m("DelegationRenewalRequested", "renewal_requested", "court", "requesting_court"),
        _m("DelegationRenewed", "renewed", "court", "executing_court"),
        _m("DelegationReleaseRequested", "release_requested", "court", "requesting_court"),
        _m("DelegationReleased", "released", "court", "executing_court"),
        _m("DelegationDeadlineNotice", "deadline_notice"),
        _m("DelegationDecided", "decided"),
    ),
    service="delegation",
    service_flow="services.delegation.flow:DelegationFlow",
    stores=("delegations", "caps", "timers"),
    own_topics=("bus.delegation.caps",),
    projector=ProjectorSpec("bus.delegation.events", "services.projector.views:EVENTS"),
    steps="courtbus.sdk.delegation:DelegationClient",
    cli=CliSpec("delegation", "courtbus.app.cli.delegation:delegation_app"),
)
