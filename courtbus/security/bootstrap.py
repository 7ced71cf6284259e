"""The operator's own rights on a secure stack, granted once by a node (a super user).

The operator is not a super user: what it may do is a set of visible ACLs, granted here with
a node's certificate when the stack starts (idempotent: Kafka ignores an ACL it already has).
It creates and configures topics, applies ACLs and SCRAM credentials (ALTER on the cluster),
and keeps the registry's storage topics (the registry runs as the operator). ``courtbus acl
apply`` must keep :func:`operator_bindings` (they are not derived from the directory).
"""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

# confluent_kafka.admin re-exports these without marking them public (mypy's strict re-export)
from confluent_kafka.admin._acl import AclBinding, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType

from courtbus.config import Connection
from courtbus.errors import ClusterError
from courtbus.security.principals import OPERATOR

_CLUSTER_OPERATIONS = (
    AclOperation.ALTER, AclOperation.ALTER_CONFIGS, AclOperation.CREATE, AclOperation.DESCRIBE,
    AclOperation.DESCRIBE_CONFIGS, AclOperation.IDEMPOTENT_WRITE,
)  # fmt: skip


def operator_bindings(principal: str = OPERATOR) -> list[AclBinding]:
    """The operator's ACLs: on the cluster ALTER (ACLs, SCRAM users), ALTER_CONFIGS, CREATE,
    DESCRIBE, DESCRIBE_CONFIGS and IDEMPOTENT_WRITE; ALL on every topic, consumer group and
    transactional id (it creates and deletes topics, replays dead letters, and the registry's
    storage runs under it)."""
    user = f"User:{principal}"

    def allow(kind: ResourceType, name: str, op: AclOperation) -> AclBinding:
        return AclBinding(kind, name, ResourcePatternType.LITERAL, user, "*", op,
                          AclPermissionType.ALLOW)  # fmt: skip

    bindings = [allow(ResourceType.BROKER, "kafka-cluster", op) for op in _CLUSTER_OPERATIONS]
    for kind in (ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID):
        bindings.append(allow(kind, "*", AclOperation.ALL))
    return bindings


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
