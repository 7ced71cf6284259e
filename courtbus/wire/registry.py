"""Client of a Confluent-compatible schema registry (Apicurio's ``/apis/ccompat/v7`` locally).

Subjects follow the record-name strategy: one subject per message type, named by the Avro
full name, because one topic carries several message types. Ids and schemas are cached.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from courtbus.config import CCOMPAT_PATH, Connection, check_registry_url
from courtbus.errors import RegistryError, SchemaError

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
COMPATIBILITY_LEVELS = frozenset(
    {
        "NONE",
        "BACKWARD",
        "BACKWARD_TRANSITIVE",
        "FORWARD",
        "FORWARD_TRANSITIVE",
        "FULL",
        "FULL_TRANSITIVE",
    }
)


def _registry_answer(resp: httpx.Response) -> bool:
    """Whether a response is a Confluent-compatible API's own: its errors are JSON objects with
    an integer ``error_code`` (40401 subject not found, 40403 schema not found, ...). A 404
    without one comes from a server with no such API at that path."""
    try:
        body = resp.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error_code"), int)


class RegistryClient:
    """Register and fetch Avro schemas; every result is cached for the client's life.

    Raises (from every request):
        ConfigError: ``REGISTRY_URL_INVALID`` (on creation) if ``url`` is not an http(s) URL.
        RegistryError: ``REGISTRY_URL_INVALID`` if the server answers 404 not as a registry
            (no Confluent-compatible API under ``url``: Apicurio has it under
            ``/apis/ccompat/v7``); ``REGISTRY_UNAVAILABLE`` if it cannot be reached.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        http: dict[str, Any] | None = None,
    ) -> None:
        self.url = check_registry_url(url)
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout_s,
            headers={"Content-Type": _CONTENT_TYPE},
            transport=transport,  # tests: an httpx.MockTransport
            **(http or {}),  # TLS and credentials: Connection.http_settings()
        )
        self._by_id: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}

    @classmethod
    def for_connection(cls, conn: Connection, **options: Any) -> RegistryClient:
        """A client of ``conn``'s registry with its TLS settings and credentials.

        Raises:
            ConfigError: ``REGISTRY_NOT_CONFIGURED``.
        """
        return cls(conn.require_registry(), http=conn.http_settings(), **options)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise RegistryError(
                f"schema registry at {self.url} unreachable: {exc}", code="REGISTRY_UNAVAILABLE"
            ) from exc
        if resp.status_code == 404 and not _registry_answer(resp):
            raise self._wrong_url(path.split("/")[1])
        return resp

    def _wrong_url(self, first: str) -> RegistryError:
        """The URL leads to an HTTP server without a Confluent-compatible API there.

        A transient error on purpose: the runtime retries a record it cannot decode for it and
        never dead-letters it for the bus's own misconfiguration (services check at start).
        """
        hint = (
            f"a Confluent-compatible API is under {self.url}{CCOMPAT_PATH} on Apicurio Registry"
            if not self.url.endswith(CCOMPAT_PATH)
            else "is it the registry's address?"
        )
        return RegistryError(
            f"registry URL {self.url} answers 404 at /{first}: not a Confluent-compatible "
            f"schema registry API; {hint}",
            code="REGISTRY_URL_INVALID",
        )

    def check(self) -> None:
        """One request (the subject list) to see that ``url`` is a registry that answers.

        Raises:
            RegistryError: ``REGISTRY_URL_INVALID``, ``REGISTRY_REFUSED`` or
                ``REGISTRY_UNAVAILABLE``.
        """
        self.subjects()

    @staticmethod
    def _fail(resp: httpx.Response, what: str) -> RegistryError:
        try:
            detail = resp.json().get("message", resp.text)
        except ValueError:
            detail = resp.text
        code = "REGISTRY_INCOMPATIBLE" if resp.status_code == 409 else "REGISTRY_REFUSED"
        return RegistryError(f"{what}: HTTP {resp.status_code}: {detail}", code=code)

    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` under ``subject`` (a no-op if already there); return its id.

        Raises:
            RegistryError: ``REGISTRY_INCOMPATIBLE`` (the subject's compatibility rule refused
                it), ``REGISTRY_REFUSED`` or ``REGISTRY_UNAVAILABLE``.
        """
        key = (subject, schema)
        if key in self._ids:
            return self._ids[key]
        resp = self._call("POST", f"/subjects/{subject}/versions", {"schema": schema})
        if resp.status_code != 200:
            raise self._fail(resp, f"registering {subject}")
        schema_id = int(resp.json()["id"])
        self._ids[key] = schema_id
        self._by_id[schema_id] = schema
        return schema_id

    def lookup(self, subject: str, schema: str) -> int:
        """The id of ``schema`` if it is registered under ``subject``.

        Raises:
            SchemaError: ``SCHEMA_NOT_REGISTERED`` if it is not (run ``courtbus schemas
                register``).
            RegistryError: the registry failed.
        """
        key = (subject, schema)
        if key in self._ids:
            return self._ids[key]
        resp = self._call("POST", f"/subjects/{subject}", {"schema": schema})
        if resp.status_code == 404:
            raise SchemaError(
                f"schema of {subject} is not registered at {self.url}; run "
                "`courtbus schemas register`",
                code="SCHEMA_NOT_REGISTERED",
            )
        if resp.status_code != 200:
            raise self._fail(resp, f"looking up {subject}")
        schema_id = int(resp.json()["id"])
        self._ids[key] = schema_id
        self._by_id[schema_id] = schema
        return schema_id

    def schema_by_id(self, schema_id: int) -> str:
        """The schema text registered with ``schema_id``.

        Raises:
            SchemaError: ``SCHEMA_ID_UNKNOWN`` if the registry has no such id.
            RegistryError: the registry failed.
        """
        if schema_id in self._by_id:
            return self._by_id[schema_id]
        resp = self._call("GET", f"/schemas/ids/{schema_id}")
        if resp.status_code == 404:
            raise SchemaError(f"no schema with id {schema_id}", code="SCHEMA_ID_UNKNOWN")
        if resp.status_code != 200:
            raise self._fail(resp, f"fetching schema {schema_id}")
        text = str(resp.json()["schema"])
        self._by_id[schema_id] = text
        return text

    def subjects(self) -> list[str]:
        """Every subject the registry holds."""
        resp = self._call("GET", "/subjects")
        if resp.status_code != 200:
            raise self._fail(resp, "listing subjects")
        return [str(s) for s in resp.json()]

    def versions(self, subject: str) -> list[str]:
        """Every registered version's schema text of ``subject``, oldest first (none: [])."""
        resp = self._call("GET", f"/subjects/{subject}/versions")
        if resp.status_code == 404:
            return []
        if resp.status_code != 200:
            raise self._fail(resp, f"listing versions of {subject}")
        texts = []
        for version in resp.json():
            one = self._call("GET", f"/subjects/{subject}/versions/{version}")
            if one.status_code != 200:
                raise self._fail(one, f"fetching {subject} version {version}")
            texts.append(str(one.json()["schema"]))
        return texts

    def set_compatibility(self, subject: str, level: str) -> None:
        """Set a subject's compatibility rule (e.g. ``FULL_TRANSITIVE``).

        Raises:
            RegistryError: ``REGISTRY_REFUSED`` or ``REGISTRY_UNAVAILABLE``.
        """
        if level not in COMPATIBILITY_LEVELS:
            raise RegistryError(f"unknown compatibility level {level!r}", code="REGISTRY_REFUSED")
        resp = self._call("PUT", f"/config/{subject}", {"compatibility": level})
        if resp.status_code != 200:
            raise self._fail(resp, f"setting compatibility of {subject}")

    def compatibility(self, subject: str) -> str | None:
        """A subject's own compatibility rule, or None if it has none."""
        resp = self._call("GET", f"/config/{subject}")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._fail(resp, f"reading compatibility of {subject}")
        data = resp.json()
        level = data.get("compatibilityLevel") or data.get("compatibility")
        return str(level) if level else None


def schema_json(text: str) -> Any:
    """Parse schema text from the registry (raises SchemaError on bad JSON)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"registry returned a schema that is not JSON: {exc}") from exc
