"""Participant SDKs: what a court's case-management system calls to use the bus."""

from courtbus.sdk.court import CourtClient, DebtorIn, DelegationRequestIn, Sent

__all__ = ["CourtClient", "DebtorIn", "DelegationRequestIn", "Sent"]
