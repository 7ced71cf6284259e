"""Participant SDKs: what a court's case-management system or a partner agency calls to use
the bus. A court opens one ``CourtClient`` and takes each flow's steps on its flow's client
(``court.delegation``, ``court.blacklist``, ``court.restriction``, ``court.distribution``,
``court.casestatus``), all sending through the court's one ``CourtSender``."""

from courtbus.sdk.agency import AgencyClient, FeedEvent, Mirror, SyncResult
from courtbus.sdk.blacklist import BlacklistClient
from courtbus.sdk.casestatus import CaseStatusClient
from courtbus.sdk.court import CourtClient
from courtbus.sdk.delegation import DebtorIn, DelegationClient, DelegationRequestIn
from courtbus.sdk.distribution import DistributionClient
from courtbus.sdk.restriction import RestrictionClient
from courtbus.sdk.sender import CourtSender
from courtbus.sdk.sent import Sent

__all__ = [
    "AgencyClient",
    "BlacklistClient",
    "CaseStatusClient",
    "CourtClient",
    "CourtSender",
    "DebtorIn",
    "DelegationClient",
    "DelegationRequestIn",
    "DistributionClient",
    "FeedEvent",
    "Mirror",
    "RestrictionClient",
    "Sent",
    "SyncResult",
]
