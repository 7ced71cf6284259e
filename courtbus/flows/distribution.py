"""Distribution (参与分配): claims, the plan, objections, suits and payment.

Its ``FlowSpec``: pure data, registered in ``courtbus/flows/__init__.py``.
"""

from __future__ import annotations

from courtbus.flows.spec import CliSpec, FlowSpec, ProjectorSpec, ViewSpec, message_maker

KEY = "distribution_id"
VIEW = "distribution.cases"  # readers take it as ``bus.topics.DISTRIBUTION_VIEW``

_m = message_maker(KEY)


SPEC = FlowSpec(
    name="distribution",
    messages=(
        _m("DistributionOpened", "opened", "court", "presiding_court", subject="case_number"),
        _m(
            "DistributionClaimFiled",
            "claim_filed",
            "court",
            "claiming_court",
            subject="case_number",
        ),
        _m("DistributionClaimAdmitted", "claim_admitted", "court"),
        _m("DistributionClaimRejected", "claim_rejected", "court"),
        _m("DistributionPlanIssued", "plan_issued", "court"),
        _m("DistributionObjectionFiled", "objection_filed", "court", "objecting_court"),
        _m("DistributionFinalized", "finalized"),
        _m("DistributionPlanServed", "plan_served", "court"),
        _m("DistributionOppositionFiled", "opposition_filed", "court", "opposing_court"),
        _m("DistributionSuitReported", "suit_reported", "court", "reporting_court"),
        _m("DistributionWindowClosed", "window_closed"),
        _m("DistributionPlanRevised", "plan_revised", "court"),
        _m("DistributionSuitDecided", "suit_decided", "court"),
        _m("DistributionEnterpriseAssessed", "enterprise_assessed", "court", subject="case_number"),
        _m(
            "DistributionBankruptcyAnswered",
            "bankruptcy_answered",
            "court",
            "bankruptcy_court",
            subject="case_number",
        ),
        _m("DistributionExecutionEnded", "execution_ended", "court"),
        _m("DistributionPaidOut", "paid_out", "court"),
        _m("DistributionAuctionPublished", "auction_published", "court", subject="case_number"),
        _m(
            "DistributionHandoverRequested",
            "handover_requested",
            "court",
            "requesting_court",
            subject="case_number",
        ),
        _m("DistributionHandedOver", "handed_over", "court"),
        _m("DistributionNotice", "notice"),
        _m("DistributionView", "view", subject="case_number"),
    ),
    service="distribution",
    service_flow="services.distribution.flow:DistributionFlow",
    view=ViewSpec(VIEW, "DistributionView"),
    stores=("distributions", "timers"),
    projector=ProjectorSpec(VIEW, "services.projector.views:DISTRIBUTION"),
    steps="courtbus.sdk.distribution:DistributionClient",
    cli=CliSpec("distribution", "courtbus.app.cli.distribution:distribution_app"),
)
