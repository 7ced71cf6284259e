"""The dishonest-debtor list (失信被执行人名单): listings, changes, delistings, digests.

Its ``FlowSpec``: pure data, registered in ``courtbus/flows/__init__.py``.
"""

from __future__ import annotations

from courtbus.flows.spec import CliSpec, FeedSpec, FlowSpec, ProjectorSpec, ViewSpec, message_maker

KEY = "entry_id"
VIEW = "blacklist.entries"  # readers take it as ``bus.topics.BLACKLIST_VIEW``

_m = message_maker(KEY)


SPEC = FlowSpec(
    name="blacklist",
    messages=(
        _m("DebtorListed", "listed", "court", "listing_court", subject="case_number"),
        _m("DebtorListingUpdated", "updated", "court", "listing_court"),
        _m("DebtorDelisted", "delisted", "court", "listing_court"),
        _m("DebtorCorrectionApplied", "correction_applied", "court", "listing_court"),
        _m("DebtorCorrectionDecided", "correction_decided", "court", "listing_court"),
        _m("DebtorDeletionReasonReported", "deletion_reason_reported", "court", "reporting_court"),
        _m("BlacklistNotice", "notice"),
        _m("BlacklistEntry", "entry"),
        _m("BlacklistDigest", "digest", "court", "court", key="court_id"),
        _m("BlacklistDriftReport", "drift_report", key="court_id"),
    ),
    service="blacklist",
    service_flow="services.blacklist.flow:BlacklistFlow",
    view=ViewSpec(VIEW, "BlacklistEntry", FeedSpec("ground", "listing_court", groups=True)),
    stores=("entries", "debtors", "courts", "timers"),
    own_topics=("bus.blacklist.debtors",),
    projector=ProjectorSpec(VIEW, "services.projector.views:BLACKLIST"),
    steps="courtbus.sdk.blacklist:BlacklistClient",
    cli=CliSpec("blacklist", "courtbus.app.cli.blacklist:blacklist_app"),
)
