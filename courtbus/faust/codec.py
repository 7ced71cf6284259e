"""A Faust codec for the bus's wire format, and the CloudEvents headers of a Faust event.

Imports faust (the ``courtbus[faust]`` extra); the core of courtbus never imports this module.
Values are Confluent-framed Avro (``courtbus.wire.codec``): decoded by the writer's schema,
fetched from the registry by the id in the frame and cached, with no reader schema, so one
codec reads ``blacklist.entries`` and an agency's projected feed alike.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

import fastavro
from faust.serializers import codecs
from faust.serializers.codecs import Codec
from faust.types.codecs import CodecT

from courtbus.errors import RegistryError, SchemaError, SerializationError
from courtbus.wire.codec import AvroCodec, Decoded, SchemaSource, decode_body, unframe
from courtbus.wire.events import EventHeaders
from courtbus.wire.registry import RegistryClient, schema_json
from courtbus.wire.schemas import SchemaSet

CODEC_NAME = "courtbus"

RawHeaders = Iterable[tuple[str, bytes | None]] | Mapping[str, bytes | None]


class WireValues:
    """Decode framed Avro by the writer's schema; encode a payload as one of our message types.

    Shared by a codec and its clones, so schemas are fetched once per id. A registry that
    cannot be reached is retried ``retries`` times (it blocks the caller: Faust calls codecs
    synchronously), then the ``RegistryError`` propagates.
    """

    def __init__(
        self,
        registry: SchemaSource,
        schemas: SchemaSet | None = None,
        *,
        auto_register: bool = False,
        retries: int = 4,
        backoff_s: float = 0.25,
    ) -> None:
        self.registry = registry
        self.auto_register = auto_register
        self.retries = retries
        self.backoff_s = backoff_s
        self._schemas = schemas
        self._encoder: AvroCodec | None = None
        self._writers: dict[int, tuple[str, Any]] = {}

    def _retrying(self, schema_id: int) -> str:
        attempt = 0
        while True:
            try:
                return self.registry.schema_by_id(schema_id)
            except RegistryError:
                if attempt >= self.retries:
                    raise
                time.sleep(self.backoff_s * 2**attempt)
                attempt += 1

    def writer(self, schema_id: int) -> tuple[str, Any]:
        """The full name and parsed schema registered under ``schema_id``.

        Raises:
            SerializationError: ``WIRE_UNKNOWN_SCHEMA_ID``, ``WIRE_BAD_WRITER_SCHEMA``.
            RegistryError: the registry stayed unreachable (transient).
        """
        if schema_id not in self._writers:
            try:
                text = self._retrying(schema_id)
                parsed = fastavro.parse_schema(schema_json(text))
            except SchemaError as exc:
                code = "WIRE_UNKNOWN_SCHEMA_ID"
                if exc.code != "SCHEMA_ID_UNKNOWN":
                    code = "WIRE_BAD_WRITER_SCHEMA"
                raise SerializationError(f"schema {schema_id}: {exc.reason}", code=code) from exc
            except RegistryError:
                raise
            except Exception as exc:  # fastavro raises several types for bad schemas
                raise SerializationError(
                    f"schema {schema_id} from the registry does not parse: {exc}",
                    code="WIRE_BAD_WRITER_SCHEMA",
                ) from exc
            name = parsed.get("name") if isinstance(parsed, dict) else None
            self._writers[schema_id] = (str(name), parsed)
        return self._writers[schema_id]

    def decode(self, data: bytes) -> Decoded:
        """Decode a framed value by its writer's schema.

        Raises:
            SerializationError: ``WIRE_*`` framing and schema errors, ``AVRO_DECODE_FAILED``,
                ``AVRO_TRAILING_BYTES``.
            RegistryError: the registry stayed unreachable (transient).
        """
        schema_id, body = unframe(data)
        name, writer = self.writer(schema_id)
        return Decoded(name, decode_body(body, name, schema_id, writer), schema_id)

    def encode(self, record: str, payload: dict[str, Any]) -> bytes:
        """Encode ``payload`` as message type ``record`` of the schema set.

        Raises:
            SerializationError: ``AVRO_ENCODE_FAILED``.
            SchemaError: unknown record, or not registered (without ``auto_register``).
            RegistryError: the registry failed.
        """
        if self._encoder is None:
            schemas = self._schemas or SchemaSet.load()
            self._encoder = AvroCodec(schemas, self.registry, auto_register=self.auto_register)
        return self._encoder.encode(record, payload)


class CourtbusCodec(Codec):
    """Faust codec: framed Avro bytes to a dict, and a dict to framed Avro of ``record``.

    A ``None`` value (a tombstone) passes through as ``None`` both ways. Decoding needs no
    record; encoding needs one (``for_record``). Errors are courtbus errors; Faust wraps them
    in its ``ValueDecodeError``.
    """

    def __init__(
        self,
        children: tuple[CodecT, ...] | None = None,
        *,
        values: WireValues,
        record: str | None = None,
    ) -> None:
        super().__init__(children, values=values, record=record)
        self.values = values
        self.record = record

    def for_record(self, record: str) -> CourtbusCodec:
        """The same codec (same caches) encoding dicts as ``record``."""
        return CourtbusCodec(self.children, values=self.values, record=record)

    def _loads(self, s: bytes) -> Any:
        if s is None:
            return None
        return self.values.decode(s).payload

    def _dumps(self, s: Any) -> bytes:
        if s is None:
            return cast(bytes, None)  # Faust produces a None value as a tombstone
        if self.record is None:
            raise SerializationError(
                "this courtbus codec decodes only; use for_record(<Avro full name>) to encode",
                code="CODEC_NO_RECORD",
            )
        if not isinstance(s, dict):
            raise SerializationError(
                f"{self.record}: expected a dict, got {type(s).__name__}",
                code="AVRO_ENCODE_FAILED",
            )
        return self.values.encode(self.record, s)


def install(
    registry: SchemaSource | str,
    *,
    name: str = CODEC_NAME,
    schemas: SchemaSet | None = None,
    auto_register: bool = False,
) -> CourtbusCodec:
    """Make a codec over ``registry`` (a schema source, or a ccompat URL) and register it with
    Faust as ``name`` (``value_serializer=name``); returns it (see ``for_record`` to encode)."""
    source = RegistryClient(registry) if isinstance(registry, str) else registry
    codec = CourtbusCodec(values=WireValues(source, schemas, auto_register=auto_register))
    codecs.register(name, codec)
    return codec


# -- CloudEvents headers ----------------------------------------------------------------------


def _raw_headers(source: Any) -> Any:
    """The headers of a Faust event, message or stream's current event, or ``source``."""
    if hasattr(source, "headers"):
        headers = source.headers
        message = getattr(source, "message", None)
        if not headers and message is not None:
            headers = getattr(message, "headers", None)
        return headers
    return source


def _pairs(headers: Any) -> list[tuple[str, bytes | None]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(k), None if v is None else bytes(v)) for k, v in items]


def ce_headers(source: Any) -> dict[str, str]:
    """The CloudEvents headers (``ce_*`` and ``content-type``) of a Faust ``EventT``,
    ``Message`` or raw Kafka headers, as text keyed by lower-case name; none (a tombstone
    has none): ``{}``. Not validated: see ``event_headers``."""
    found: dict[str, str] = {}
    for key, value in _pairs(_raw_headers(source)):
        name = key.lower()
        if value is not None and (name.startswith("ce_") or name == "content-type"):
            found[name] = value.decode("utf-8", errors="replace")
    return found


def ce_id(source: Any) -> str | None:
    """The ``ce_id`` (the idempotency key) of an event or message, or None if it has none."""
    return ce_headers(source).get("ce_id")


def event_headers(source: Any) -> EventHeaders:
    """The checked CloudEvents attributes of a Faust event or message.

    Raises:
        ValidationError: ``HEADER_*`` (see ``EventHeaders.from_kafka``).
    """
    return EventHeaders.from_kafka(_pairs(_raw_headers(source)))


# -- table values -----------------------------------------------------------------------------


def json_safe(value: Any) -> Any:
    """A decoded payload as JSON (what a Faust table's default serializer keeps): times and
    dates in ISO 8601, decimals as strings, bytes in base64.

    Raises:
        SerializationError: ``JSON_UNSUPPORTED`` for a value of another type.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise SerializationError(f"{type(value).__name__} has no JSON form", code="JSON_UNSUPPORTED")


__all__ = [
    "CODEC_NAME",
    "CourtbusCodec",
    "WireValues",
    "ce_headers",
    "ce_id",
    "event_headers",
    "install",
    "json_safe",
]
