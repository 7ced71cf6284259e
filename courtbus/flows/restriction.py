"""Restrictions (限制出境, 限制消费): bans issued by courts, acknowledged and enforced by agencies.

Its ``FlowSpec``: pure data, registered in ``courtbus/flows/__init__.py``.
"""

from __future__ import annotations

from courtbus.flows.spec import CliSpec, FeedSpec, FlowSpec, ProjectorSpec, ViewSpec, message_maker

KEY = "control_id"
VIEW = "restriction.controls"  # readers take it as ``bus.topics.RESTRICTION_VIEW``

_m = message_maker(KEY)


SPEC = FlowSpec(
    name="restriction",
    messages=(
        _m("RestrictionIssued", "issued", "court", "issuing_court", subject="case_number"),
        _m("RestrictionAcknowledged", "acknowledged", "agency", "agency_id"),
        _m("RestrictionRejected", "rejected", "agency", "agency_id"),
        _m("RestrictionLifted", "lifted", "court", "issuing_court"),
        _m("InterceptionReported", "interception_reported", "agency", "agency_id"),
        _m("RestrictionExemptionApplied", "exemption_applied", "court", "issuing_court"),
        _m("RestrictionExemptionDecided", "exemption_decided", "court", "issuing_court"),
        _m("RestrictionNotice", "notice"),
        _m("RestrictionControl", "control", subject="case_number"),
    ),
    service="restriction",
    service_flow="services.restriction.flow:RestrictionFlow",
    view=ViewSpec(VIEW, "RestrictionControl", FeedSpec("kind", "issuing_court")),
    stores=("controls", "listing_load", "listing_due", "timers"),
    projector=ProjectorSpec(VIEW, "services.projector.views:RESTRICTION"),
    steps="courtbus.sdk.restriction:RestrictionClient",
    cli=CliSpec("restrictions", "courtbus.app.cli.restrictions:restrictions_app"),
)
