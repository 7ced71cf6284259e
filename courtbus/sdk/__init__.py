"""Participant SDKs: what a court's case-management system or a partner agency calls to use
the bus."""

from courtbus.sdk.agency import AgencyClient, FeedEvent, Mirror, SyncResult
from courtbus.sdk.court import CourtClient, DebtorIn, DelegationRequestIn
from courtbus.sdk.sent import Sent

__all__ = [
    "AgencyClient",
    "CourtClient",
    "DebtorIn",
    "DelegationRequestIn",
    "FeedEvent",
    "Mirror",
    "Sent",
    "SyncResult",
]
