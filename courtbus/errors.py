"""The one error tree of courtbus. Imports nothing but the standard library.

Every error carries a stable machine ``code`` (what dead letters, rejection notices and tests
match on) and a readable message. Library failures are wrapped ``from exc``.
"""

from __future__ import annotations


class CourtbusError(Exception):
    """Root of every error courtbus raises on purpose."""

    code: str = "COURTBUS_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def reason(self) -> str:
        """The readable part of the error, without the code."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


class ValidationError(CourtbusError):
    """Input that breaks a domain rule (bad case number, bad ID, illegal transition)."""

    code = "VALIDATION_FAILED"


class ConfigError(CourtbusError):
    """A configuration or data file (directory, catalogue, schema set) is invalid."""

    code = "CONFIG_INVALID"


class SchemaError(CourtbusError):
    """A schema cannot be loaded, registered, or is incompatible with a released version."""

    code = "SCHEMA_INVALID"


class SerializationError(CourtbusError):
    """A value cannot be encoded to, or decoded from, the wire format."""

    code = "SERIALIZATION_FAILED"


class TransientError(CourtbusError):
    """A dependency is briefly unavailable: retry the work later, never dead-letter it."""

    code = "TRANSIENT_FAILURE"


class RegistryError(TransientError):
    """The schema registry refused a request or could not be reached."""

    code = "REGISTRY_UNAVAILABLE"


class AuthorizationError(CourtbusError):
    """A participant tried to act for someone else, or the broker denied an operation."""

    code = "NOT_AUTHORIZED"


class SignatureError(CourtbusError):
    """A record's signature is missing, malformed, made with the wrong key, does not match
    the record, or its key is outside its validity window (``SIGNATURE_*``)."""

    code = "SIGNATURE_INVALID"


class StackError(CourtbusError):
    """The local Kafka/registry stack could not be fetched, started or stopped."""

    code = "STACK_FAILED"


class ClusterError(CourtbusError):
    """The Kafka cluster refused an administrative change (topics, configs, ACLs)."""

    code = "CLUSTER_FAILED"


class StoreError(CourtbusError):
    """The SQL read model failed."""

    code = "STORE_FAILED"


class StateError(CourtbusError):
    """A service's local state store or its changelog cannot be used as it is."""

    code = "STATE_FAILED"
