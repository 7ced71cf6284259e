"""Reading and changing a cluster's ACLs: the admin I/O behind ``courtbus acl plan|apply``.

confluent-kafka's ``AdminClient`` (``describe_acls``, ``create_acls``, ``delete_acls``) over
``Connection.librdkafka_settings``. librdkafka calls Kafka's CLUSTER resource ``BROKER``; a
binding of a resource type or operation it does not know comes back ``UNKNOWN`` and is only
reported (``acl.Resource.UNKNOWN``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

# the public ``confluent_kafka.admin`` re-exports these without ``__all__``: strict mypy wants
# them from where they are defined
from confluent_kafka.admin._acl import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
)
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType

from courtbus.access import acl
from courtbus.access.acl import AclPlan, Binding, Operation, Pattern, Resource
from courtbus.catalogue.directory import Directory
from courtbus.catalogue.topics import Catalogue
from courtbus.config import Connection
from courtbus.errors import AuthorizationError, ClusterError
from courtbus.security.principals import USER

log = logging.getLogger("courtbus.security")
_rdkafka_log = logging.getLogger("courtbus.security.rdkafka")

_RESOURCES = {
    Resource.TOPIC: ResourceType.TOPIC,
    Resource.GROUP: ResourceType.GROUP,
    Resource.TRANSACTIONAL_ID: ResourceType.TRANSACTIONAL_ID,
    Resource.CLUSTER: ResourceType.BROKER,  # librdkafka's name for Kafka's CLUSTER (4)
}
_FROM_RESOURCE = {v: k for k, v in _RESOURCES.items()}
_PATTERNS = {
    Pattern.LITERAL: ResourcePatternType.LITERAL,
    Pattern.PREFIXED: ResourcePatternType.PREFIXED,
}
_FROM_PATTERN = {v: k for k, v in _PATTERNS.items()}


@dataclass(frozen=True, slots=True)
class Applied:
    """What ``apply`` did: the bindings it created and those it deleted."""

    added: tuple[Binding, ...]
    removed: tuple[Binding, ...]


def admin_client(conn: Connection) -> AdminClient:
    """An admin client for ``conn`` (librdkafka's log lines go to ``courtbus.security``)."""
    config: dict[str, Any] = {**conn.librdkafka_settings(), "logger": _rdkafka_log}
    return AdminClient(config)


def _principal(text: str) -> str:
    """``User:court.32`` → ``court.32``; another type (``Group:x``) keeps its prefix."""
    return text[len(USER) :] if text.startswith(USER) else text


def to_binding(raw: AclBinding) -> Binding:
    """A binding as the broker described it."""
    # the binding's fields hold enums once constructed (the stubs allow names and ints too)
    restype: Any = raw.restype
    pattern: Any = raw.resource_pattern_type
    op: Any = raw.operation
    operation = str(op.name)
    return Binding(
        principal=_principal(raw.principal),
        resource=_FROM_RESOURCE.get(restype, Resource.UNKNOWN),
        name=raw.name,
        pattern=_FROM_PATTERN.get(pattern, Pattern.UNKNOWN),
        operation=Operation(operation) if operation in Operation.__members__ else Operation.UNKNOWN,
        allow=raw.permission_type == AclPermissionType.ALLOW,
        host=raw.host,
    )


def to_acl(binding: Binding) -> AclBinding:
    """The librdkafka binding of ``binding`` (a known resource, pattern and operation)."""
    return AclBinding(
        _RESOURCES[binding.resource],
        binding.name,
        _PATTERNS[binding.pattern],
        f"{USER}{binding.principal}",
        binding.host,
        AclOperation[binding.operation.value],
        AclPermissionType.ALLOW if binding.allow else AclPermissionType.DENY,
    )


def _exact(binding: Binding) -> AclBindingFilter:
    """A filter that matches ``binding`` and nothing else."""
    b = to_acl(binding)
    return AclBindingFilter(
        b.restype,
        b.name,
        b.resource_pattern_type,
        b.principal,
        b.host,
        b.operation,
        b.permission_type,
    )


def _fail(what: str, conn: Connection, exc: KafkaException) -> Exception:
    """The courtbus error for a refused or failed admin call."""
    error = exc.args[0] if exc.args else None
    code = error.code() if isinstance(error, KafkaError) else None
    detail = error.str() if isinstance(error, KafkaError) else str(exc)
    if code == KafkaError.CLUSTER_AUTHORIZATION_FAILED:
        return AuthorizationError(
            f"{what}: the cluster refused it (this principal may not describe or alter ACLs: "
            "run it as a node, an administrator or the operator once it has its ACLs)",
            code="ACL_NOT_AUTHORIZED",
        )
    if code == KafkaError.SECURITY_DISABLED:
        return ClusterError(
            f"{what}: the cluster at {conn.bootstrap} has no authorizer, so it keeps no ACLs "
            "(start the local stack with `courtbus stack up --secure`)",
            code="ACL_SECURITY_DISABLED",
        )
    if code in (KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN):
        return ClusterError(
            f"cannot reach Kafka at {conn.bootstrap}: {detail}", code="CLUSTER_UNREACHABLE"
        )
    return ClusterError(f"{what}: {detail}", code="ACL_FAILED")


def _may_describe_acls(conn: Connection, admin: AdminClient, timeout_s: float) -> None:
    """Refuse early a principal without DESCRIBE on the cluster: a broker (4.1) answers its
    DescribeAcls with an error that librdkafka (2.16) hands back as an empty list, which
    would plan every ACL as missing."""
    try:
        cluster = admin.describe_cluster(
            include_authorized_operations=True, request_timeout=timeout_s
        ).result()
    except KafkaException as exc:
        raise _fail("describing the cluster", conn, exc) from exc
    # librdkafka gives None when the broker grants no operation on the cluster at all
    if not set(cluster.authorized_operations or ()) & {AclOperation.DESCRIBE, AclOperation.ALL}:
        raise AuthorizationError(
            "describing the cluster's ACLs: this principal may not (it needs DESCRIBE on the "
            "cluster: run it as a node, an administrator or the operator once it has its ACLs)",
            code="ACL_NOT_AUTHORIZED",
        )


def current(conn: Connection, admin: AdminClient, timeout_s: float = 30.0) -> list[Binding]:
    """Every binding the cluster holds, for every principal.

    Raises:
        AuthorizationError: ``ACL_NOT_AUTHORIZED``.
        ClusterError: ``ACL_SECURITY_DISABLED``, ``CLUSTER_UNREACHABLE`` or ``ACL_FAILED``.
    """
    anything: Any = None  # a filter's None matches any name, principal or host
    _may_describe_acls(conn, admin, timeout_s)
    everything = AclBindingFilter(
        ResourceType.ANY,
        anything,
        ResourcePatternType.ANY,
        anything,
        anything,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    try:
        found = admin.describe_acls(everything, request_timeout=timeout_s).result()
    except KafkaException as exc:
        raise _fail("describing the cluster's ACLs", conn, exc) from exc
    return [to_binding(b) for b in found]


def plan(
    conn: Connection, directory: Directory, catalogue: Catalogue, timeout_s: float = 30.0
) -> AclPlan:
    """How the cluster's ACLs differ from what ``directory`` and ``catalogue`` want.

    Raises:
        AuthorizationError: ``ACL_NOT_AUTHORIZED``.
        ClusterError: ``ACL_SECURITY_DISABLED``, ``CLUSTER_UNREACHABLE`` or ``ACL_FAILED``.
    """
    admin = admin_client(conn)
    return acl.plan(acl.desired(directory, catalogue), current(conn, admin, timeout_s))


def _wait(futures: Mapping[Any, Any], what: str, conn: Connection) -> None:
    problems: list[Exception] = []
    for future in futures.values():
        try:
            future.result()
        except KafkaException as exc:
            problems.append(_fail(what, conn, exc))
    if problems:
        raise problems[0]


def change(
    conn: Connection,
    add: Sequence[Binding],
    remove: Sequence[Binding],
    timeout_s: float = 30.0,
) -> Applied:
    """Delete ``remove`` (each exactly), then create ``add``.

    Raises:
        AuthorizationError: ``ACL_NOT_AUTHORIZED``.
        ClusterError: ``ACL_SECURITY_DISABLED``, ``CLUSTER_UNREACHABLE`` or ``ACL_FAILED``.
    """
    admin = admin_client(conn)
    if remove:
        deleted = admin.delete_acls([_exact(b) for b in remove], request_timeout=timeout_s)
        _wait(deleted, "deleting ACLs", conn)
        log.info("deleted %d ACL(s)", len(remove))
    if add:
        created = admin.create_acls([to_acl(b) for b in add], request_timeout=timeout_s)
        _wait(created, "creating ACLs", conn)
        log.info("created %d ACL(s)", len(add))
    return Applied(tuple(add), tuple(remove))


def apply(conn: Connection, wanted: AclPlan, timeout_s: float = 30.0) -> Applied:
    """Carry out a plan: remove what is extra, add what is missing (a second run: nothing).

    Raises:
        AuthorizationError: ``ACL_NOT_AUTHORIZED``.
        ClusterError: ``ACL_SECURITY_DISABLED``, ``CLUSTER_UNREACHABLE`` or ``ACL_FAILED``.
    """
    return change(conn, wanted.add, wanted.remove, timeout_s)


def grant(conn: Connection, bindings: Iterable[Binding], timeout_s: float = 30.0) -> Applied:
    """Create ``bindings`` (those the cluster already holds are left as they are).

    Raises:
        AuthorizationError: ``ACL_NOT_AUTHORIZED``.
        ClusterError: ``ACL_SECURITY_DISABLED``, ``CLUSTER_UNREACHABLE`` or ``ACL_FAILED``.
    """
    return change(conn, sorted(set(bindings)), (), timeout_s)
