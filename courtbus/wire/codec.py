"""Avro values in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, body.

fastavro on the hot path: schemas are parsed once and schema ids cached per message type.
Every library failure is re-raised as ``SerializationError`` with a stable code.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from typing import Any, Protocol

import fastavro

from courtbus.errors import CourtbusError, SchemaError, SerializationError
from courtbus.wire.schemas import MessageSchema, SchemaSet

MAGIC = 0
_HEADER = struct.Struct(">bI")


class SchemaSource(Protocol):
    """What the codec needs of a registry (``RegistryClient`` implements it)."""

    def register(self, subject: str, schema: str) -> int: ...
    def lookup(self, subject: str, schema: str) -> int: ...
    def schema_by_id(self, schema_id: int) -> str: ...


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded value: its message type, the payload, and the writer's schema id."""

    record: str
    payload: dict[str, Any]
    schema_id: int


def frame(schema_id: int, body: bytes) -> bytes:
    """Prefix an Avro body with the Confluent header."""
    return _HEADER.pack(MAGIC, schema_id) + body


def unframe(data: bytes) -> tuple[int, bytes]:
    """Split Confluent-framed bytes into (schema id, Avro body).

    Raises:
        SerializationError: ``WIRE_EMPTY``, ``WIRE_TRUNCATED`` or ``WIRE_BAD_MAGIC``.
    """
    if not data:
        raise SerializationError("record value is empty", code="WIRE_EMPTY")
    if len(data) < _HEADER.size:
        raise SerializationError(
            f"record value has {len(data)} bytes, fewer than the 5-byte header",
            code="WIRE_TRUNCATED",
        )
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SerializationError(
            f"record value starts with byte {data[0]:#04x}, not the Confluent magic byte 0x00",
            code="WIRE_BAD_MAGIC",
        )
    return schema_id, data[_HEADER.size :]


class AvroCodec:
    """Encode and decode message payloads against the schema set and a registry."""

    def __init__(self, schemas: SchemaSet, registry: SchemaSource, *, auto_register: bool = False):
        self.schemas = schemas
        self.registry = registry
        self.auto_register = auto_register
        self._ids: dict[str, int] = {}
        self._writers: dict[int, tuple[str, Any]] = {}
        self._readers: dict[int, Any] = {}  # schema id -> our reader schema, None if the same

    def schema_id(self, record: str) -> int:
        """The registry id of our schema for ``record`` (registered first if auto_register).

        Raises:
            SchemaError: unknown record, or not registered.
            RegistryError: the registry failed.
        """
        if record not in self._ids:
            text = self.schemas.message(record).text
            if self.auto_register:
                self._ids[record] = self.registry.register(record, text)
            else:
                self._ids[record] = self.registry.lookup(record, text)
        return self._ids[record]

    def encode(self, record: str, payload: dict[str, Any]) -> bytes:
        """Encode ``payload`` as message type ``record``.

        Raises:
            SerializationError: ``AVRO_ENCODE_FAILED`` naming what does not fit the schema.
            SchemaError, RegistryError: the schema is unknown or cannot be resolved.
        """
        return self._encode(
            record, self.schemas.message(record).parsed, self.schema_id(record), payload
        )

    def encode_with(self, schema: MessageSchema, payload: dict[str, Any]) -> bytes:
        """Encode ``payload`` with a schema made at run time, outside the schema set (e.g. an
        agency's projected feed): looked up under its full name on first use, and registered
        if it is not there yet, whatever ``auto_register`` says (a registry that lets only the
        operator register, as the secure stack's, needs ``schemas register`` to have done it).

        Raises:
            SerializationError: ``AVRO_ENCODE_FAILED``.
            RegistryError: the registry refused the schema (``REGISTRY_INCOMPATIBLE`` if the
                subject's compatibility rule did) or failed.
        """
        key = f"{schema.name}\n{schema.text}"
        if key not in self._ids:
            try:
                self._ids[key] = self.registry.lookup(schema.name, schema.text)
            except SchemaError as exc:
                if exc.code != "SCHEMA_NOT_REGISTERED":
                    raise
                self._ids[key] = self.registry.register(schema.name, schema.text)
        return self._encode(schema.name, schema.parsed, self._ids[key], payload)

    def encode_parsed(
        self, record: str, parsed: Any, schema_id: int, payload: dict[str, Any]
    ) -> bytes:
        """Encode ``payload`` with a schema already parsed and its registry id already known
        (``encode`` looked up once for many payloads, as ``Envelope.builder`` does).

        Raises:
            SerializationError: ``AVRO_ENCODE_FAILED``.
        """
        return self._encode(record, parsed, schema_id, payload)

    def _encode(self, record: str, parsed: Any, schema_id: int, payload: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        try:
            # Every field the schema names, and no other; a missing field with a default (an
            # optional field added later, e.g. Debtor.id_type) takes its default.
            fastavro.schemaless_writer(buf, parsed, payload, strict_allow_default=True)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise SerializationError(
                f"{record}: payload does not fit the schema: {exc}", code="AVRO_ENCODE_FAILED"
            ) from exc
        return frame(schema_id, buf.getvalue())

    def _writer(self, schema_id: int) -> tuple[str, Any]:
        if schema_id not in self._writers:
            try:
                text = self.registry.schema_by_id(schema_id)
            except SchemaError as exc:
                raise SerializationError(exc.reason, code="WIRE_UNKNOWN_SCHEMA_ID") from exc
            try:
                parsed = fastavro.parse_schema(_json(text))
            except Exception as exc:  # fastavro raises several types for bad schemas
                raise SerializationError(
                    f"schema {schema_id} from the registry does not parse: {exc}",
                    code="WIRE_BAD_WRITER_SCHEMA",
                ) from exc
            name = parsed.get("name") if isinstance(parsed, dict) else None
            self._writers[schema_id] = (str(name), parsed)
        return self._writers[schema_id]

    def decode(self, data: bytes) -> Decoded:
        """Decode Confluent-framed bytes; resolve to our schema of the same name if we have it.

        Raises:
            SerializationError: ``WIRE_*`` framing errors, ``WIRE_UNKNOWN_SCHEMA_ID``,
                ``AVRO_DECODE_FAILED`` (truncated or corrupt body),
                ``AVRO_TRAILING_BYTES`` (bytes left after the record).
            RegistryError: the registry is unreachable (transient: retry, do not dead-letter).
        """
        schema_id, body = unframe(data)
        name, writer = self._writer(schema_id)
        if schema_id not in self._readers:  # resolve only when the writer's schema differs
            reader = self.schemas.messages.get(name)
            self._readers[schema_id] = (
                None if reader is None or reader.parsed == writer else reader.parsed
            )
        payload = decode_body(body, name, schema_id, writer, self._readers[schema_id])
        return Decoded(name, payload, schema_id)


def decode_body(
    body: bytes, name: str, schema_id: int, writer: Any, reader: Any = None
) -> dict[str, Any]:
    """The record an unframed Avro ``body`` holds, read by its ``writer``'s parsed schema
    (registered as ``name`` under ``schema_id``; those two only name it in the errors) and
    resolved to ``reader``'s if given: what every decoder of the wire format runs.

    Raises:
        SerializationError: ``AVRO_DECODE_FAILED`` (truncated or corrupt body, or a schema
            that is not a record), ``AVRO_TRAILING_BYTES`` (bytes left after the record).
    """
    buf = io.BytesIO(body)
    try:
        payload = fastavro.schemaless_reader(buf, writer, reader)
    except CourtbusError:
        raise
    except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, ...
        raise SerializationError(
            f"Avro body of {name} (schema {schema_id}) is corrupt or truncated: "
            f"{type(exc).__name__}: {exc}",
            code="AVRO_DECODE_FAILED",
        ) from exc
    if buf.tell() != len(body):
        raise SerializationError(
            f"{len(body) - buf.tell()} unexpected bytes after the {name} record",
            code="AVRO_TRAILING_BYTES",
        )
    if not isinstance(payload, dict):
        raise SerializationError(f"schema {schema_id} is not a record", code="AVRO_DECODE_FAILED")
    return payload


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SerializationError(
            f"registry schema is not JSON: {exc}", code="WIRE_BAD_WRITER_SCHEMA"
        ) from exc
