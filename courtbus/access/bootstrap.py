"""The operator's own rights on a secure stack, granted once by a node (a super user).

The operator is not a super user: what it may do is a set of visible ACLs, granted here with
a node's certificate when the stack starts (idempotent: Kafka ignores an ACL it already has).
It creates and configures topics, applies ACLs and SCRAM credentials (ALTER on the cluster),
and keeps the registry's storage topics (the registry runs as the operator). ``courtbus acl
apply`` keeps them: they are part of what it wants (``acl.operator_bindings``).
"""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._acl import AclBinding  # not re-exported for mypy

from courtbus.access import acl
from courtbus.access.acl_admin import to_acl
from courtbus.config import Connection
from courtbus.errors import ClusterError


def operator_bindings() -> list[AclBinding]:
    """The operator's ACLs (:func:`courtbus.access.acl.operator_bindings`, the one list)."""
    return [to_acl(b) for b in acl.operator_bindings()]


def grant_operator(node: Connection, timeout_s: float = 30.0) -> None:
    """Create :func:`operator_bindings` through ``node`` (a connection with a node's
    certificate).

    Raises:
        ClusterError: ``ACL_BOOTSTRAP_FAILED`` if the brokers refuse or do not answer.
    """
    admin = AdminClient({**node.librdkafka_settings(), "log_level": 4})  # no info lines
    futures = admin.create_acls(operator_bindings(), request_timeout=timeout_s)
    for binding, future in futures.items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            raise ClusterError(
                f"granting the operator {binding.operation} on "
                f"{binding.restype} {binding.name} failed: {exc}",
                code="ACL_BOOTSTRAP_FAILED",
            ) from exc
