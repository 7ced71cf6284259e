"""The participant directory (``topics/directory.yaml``): courts, agencies, feeds, groups,
and the participants' public signing keys (a separate file, ``courtbus.security.keys``).

Loaded and validated at start-up. Every problem names the file, the entry and what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from courtbus.domain.courts import court_id_from_designation, validate_court_id
from courtbus.domain.regions import BY_CODE, PROVINCES
from courtbus.errors import ConfigError, ValidationError
from courtbus.resources import directory_path
from courtbus.security.keys import load_keys
from courtbus.security.signing import PublicKey
from courtbus.wire.messages import FLOWS
from courtbus.yaml_files import read_yaml

DEFAULT_PATH = directory_path()  # $COURTBUS_DIRECTORY or the shipped directory
_AGENCY_ID = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
_GROUP_ID = re.compile(r"^[a-z][a-z0-9-]{1,63}$")
_PROVINCE_NAMES = {p.name: p for p in PROVINCES}


class CourtLevel(StrEnum):
    """Court levels; the id length follows from it except for special courts."""

    HIGH = "high"
    INTERMEDIATE = "intermediate"
    BASIC = "basic"
    SPECIAL = "special"


class AgencyKind(StrEnum):
    """Kinds of partner agency."""

    IMMIGRATION = "immigration"
    AVIATION = "aviation"
    RAIL = "rail"
    BANK = "bank"
    CREDIT_BUREAU = "credit_bureau"


_ID_LENGTH = {CourtLevel.HIGH: 2, CourtLevel.INTERMEDIATE: 4, CourtLevel.BASIC: 6}


@dataclass(frozen=True, slots=True)
class Court:
    """A court on the bus."""

    id: str
    designation: str
    name: str
    province: str  # full province name, e.g. 江苏省
    level: CourtLevel


@dataclass(frozen=True, slots=True)
class Agency:
    """A partner agency on the bus."""

    id: str
    name: str
    kind: AgencyKind


@dataclass(frozen=True, slots=True)
class Feed:
    """What one agency receives of one flow, and which payload fields it may see."""

    agency: str
    flow: str
    kinds: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Directory:
    """The validated directory."""

    courts: tuple[Court, ...]
    agencies: tuple[Agency, ...]
    feeds: tuple[Feed, ...]
    groups: Mapping[str, tuple[str, ...]]
    # public signing keys with their validity windows (the keys file: ``security.keys``)
    keys: tuple[PublicKey, ...] = ()
    # by id, for lookups that do not walk 3,500 courts (a national directory)
    _courts: dict[str, Court] = field(init=False, repr=False, compare=False)
    _agencies: dict[str, Agency] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_courts", {c.id: c for c in reversed(self.courts)})
        object.__setattr__(self, "_agencies", {a.id: a for a in reversed(self.agencies)})

    def court(self, court_id: str) -> Court:
        """The court with ``court_id``.

        Raises:
            ValidationError: ``COURT_UNKNOWN``.
        """
        court = self._courts.get(court_id)
        if court is not None:
            return court
        raise ValidationError(f"court {court_id!r} is not in the directory", code="COURT_UNKNOWN")

    def agency(self, agency_id: str) -> Agency:
        """The agency with ``agency_id``.

        Raises:
            ValidationError: ``AGENCY_UNKNOWN``.
        """
        agency = self._agencies.get(agency_id)
        if agency is not None:
            return agency
        raise ValidationError(
            f"agency {agency_id!r} is not in the directory", code="AGENCY_UNKNOWN"
        )

    def feed_topic(self, agency_id: str, flow: str) -> str:
        """``agency.<id>.<flow>``, the topic of a feed the directory grants ``agency_id``.

        Raises:
            ValidationError: ``AGENCY_UNKNOWN``, or ``FEED_NOT_GRANTED`` naming the feeds the
                agency has and the agencies that have ``flow``.
        """
        self.agency(agency_id)
        own = [f for f in self.feeds if f.agency == agency_id]
        if any(f.flow == flow for f in own):
            return f"agency.{agency_id}.{flow}"
        feeds = ", ".join(
            f"{f.flow}{' (' + ', '.join(f.kinds) + ')' if f.kinds else ''}" for f in own
        )
        others = ", ".join(sorted({f.agency for f in self.feeds if f.flow == flow}))
        raise ValidationError(
            f"agency {agency_id} has no {flow} feed (its feeds: {feeds or 'none'}); "
            f"agencies with a {flow} feed: {others or 'none'}",
            code="FEED_NOT_GRANTED",
        )

    def provinces(self) -> list[str]:
        """Provinces that have at least one court, in directory order."""
        return list(dict.fromkeys(c.province for c in self.courts))


class _Loader:
    """Validates raw YAML data entry by entry, collecting every problem before failing."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{self.source}: {where}: {message}")

    def fields(
        self, where: str, entry: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(entry, dict):
            self.problem(where, f"must be a mapping, not {type(entry).__name__}")
            return None
        missing = [k for k in required if entry.get(k) in (None, "")]
        unknown = sorted(set(entry) - set(required) - set(optional))
        if missing:
            self.problem(where, f"missing {', '.join(missing)}")
        if unknown:
            self.problem(where, f"unknown field(s) {', '.join(map(str, unknown))}")
        return None if missing else {k: entry[k] for k in entry}

    def court(self, index: int, entry: Any) -> Court | None:
        where = f"courts[{index}]"
        data = self.fields(where, entry, ("id", "designation", "name", "province", "level"))
        if data is None:
            return None
        court_id = str(data["id"])
        where = f"courts[{index}] (id {court_id!r})"
        ok = True
        try:
            validate_court_id(court_id)
        except ValidationError as exc:
            self.problem(where, exc.reason)
            ok = False
        province = _PROVINCE_NAMES.get(str(data["province"]))
        if province is None:
            self.problem(
                where, f"unknown province {data['province']!r} (use the full name, e.g. 江苏省)"
            )
            ok = False
        try:
            level = CourtLevel(str(data["level"]))
        except ValueError:
            self.problem(where, f"unknown level {data['level']!r}; one of {', '.join(CourtLevel)}")
            return None
        if not ok or province is None:
            return None
        if court_id[:2] != province.code:
            self.problem(
                where,
                f"id prefix {court_id[:2]} is {BY_CODE[court_id[:2]].name}, not {province.name}",
            )
        try:
            derived = court_id_from_designation(str(data["designation"]))
            if derived != court_id:
                self.problem(
                    where, f"designation {data['designation']} gives id {derived}, not {court_id}"
                )
        except ValidationError as exc:
            self.problem(where, exc.reason)
        expected = _ID_LENGTH.get(level)
        if expected is not None and len(court_id) != expected:
            self.problem(
                where,
                f"a {level} court's id has {expected} digits, {court_id!r} has {len(court_id)}",
            )
        return Court(court_id, str(data["designation"]), str(data["name"]), province.name, level)

    def agency(self, index: int, entry: Any) -> Agency | None:
        where = f"agencies[{index}]"
        data = self.fields(where, entry, ("id", "name", "kind"))
        if data is None:
            return None
        agency_id = str(data["id"])
        where = f"agencies[{index}] (id {agency_id!r})"
        if not _AGENCY_ID.match(agency_id):
            self.problem(
                where, "malformed agency id: lower-case ASCII letters, digits and '-', 2–32 long"
            )
            return None
        try:
            kind = AgencyKind(str(data["kind"]))
        except ValueError:
            self.problem(where, f"unknown kind {data['kind']!r}; one of {', '.join(AgencyKind)}")
            return None
        return Agency(agency_id, str(data["name"]), kind)

    def feed(self, index: int, entry: Any, agencies: set[str]) -> Feed | None:
        where = f"feeds[{index}]"
        data = self.fields(where, entry, ("agency", "flow", "fields"), ("kinds",))
        if data is None:
            return None
        where = f"feeds[{index}] (agency {data['agency']!r})"
        if str(data["agency"]) not in agencies:
            self.problem(where, f"feed to non-existent agency {data['agency']!r}")
            return None
        if data["flow"] not in FLOWS:
            self.problem(where, f"unknown flow {data['flow']!r}; one of {', '.join(FLOWS)}")
            return None
        if not isinstance(data["fields"], list) or not data["fields"]:
            self.problem(where, "fields must be a non-empty list")
            return None
        kinds = data.get("kinds") or []
        return Feed(
            str(data["agency"]),
            str(data["flow"]),
            tuple(map(str, kinds)),
            tuple(map(str, data["fields"])),
        )


def parse_directory(raw: Any, source: str = "<memory>") -> Directory:
    """Validate directory data already read from YAML.

    Raises:
        ConfigError: ``DIRECTORY_INVALID`` listing every problem, each naming the file, the
            entry and what is wrong.
    """
    loader = _Loader(source)
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: must be a mapping with courts, agencies, feeds", code="DIRECTORY_INVALID"
        )
    unknown = sorted(set(raw) - {"courts", "agencies", "feeds", "groups"})
    if unknown:
        loader.problem("top level", f"unknown section(s) {', '.join(unknown)}")
    courts_at = [(i, c) for i, e in enumerate(raw.get("courts") or []) if (c := loader.court(i, e))]
    agencies_at = [
        (i, a) for i, e in enumerate(raw.get("agencies") or []) if (a := loader.agency(i, e))
    ]
    courts = [c for _, c in courts_at]
    agencies = [a for _, a in agencies_at]
    if not courts and not loader.problems:
        loader.problem("courts", "no courts")
    seen: dict[str, str] = {}
    entries = [(f"courts[{i}]", c.id) for i, c in courts_at] + [
        (f"agencies[{i}]", a.id) for i, a in agencies_at
    ]
    for where, pid in entries:
        if pid in seen:
            loader.problem(f"{where} (id {pid!r})", f"duplicate id (already used by {seen[pid]})")
        else:
            seen[pid] = where
    first_use: dict[str, str] = {}
    for i, c in courts_at:
        if c.designation in first_use:
            loader.problem(
                f"courts[{i}] (id {c.id!r})",
                f"designation {c.designation} already used by {first_use[c.designation]}",
            )
        first_use.setdefault(c.designation, f"courts[{i}]")
    agency_ids = {a.id for a in agencies}
    feeds = [
        f for i, e in enumerate(raw.get("feeds") or []) if (f := loader.feed(i, e, agency_ids))
    ]
    court_ids = {c.id for c in courts}
    groups: dict[str, tuple[str, ...]] = {}
    for name, members in (raw.get("groups") or {}).items():
        if not _GROUP_ID.match(str(name)):
            loader.problem(f"groups.{name}", "malformed group name")
        missing = [str(m) for m in members or [] if str(m) not in court_ids]
        if missing:
            loader.problem(f"groups.{name}", f"unknown court(s) {', '.join(missing)}")
        groups[str(name)] = tuple(str(m) for m in members or [])
    if loader.problems:
        raise ConfigError(
            "invalid participant directory:\n  " + "\n  ".join(loader.problems),
            code="DIRECTORY_INVALID",
        )
    return Directory(tuple(courts), tuple(agencies), tuple(feeds), groups)


def load_directory(path: Path = DEFAULT_PATH, keys_file: Path | None = None) -> Directory:
    """Read and validate a directory YAML file, with the public keys of ``keys_file``
    (default ``$COURTBUS_KEYS`` or ``<stack home>/keys/public.yaml``; none if it does not
    exist).

    Raises:
        ConfigError: ``DIRECTORY_INVALID`` (see ``parse_directory``), ``KEYS_INVALID`` or
            ``CONFIG_UNREADABLE``.
    """
    directory = parse_directory(read_yaml(path), str(path))
    keys = load_keys(keys_file)
    if not keys:
        return directory
    return Directory(directory.courts, directory.agencies, directory.feeds, directory.groups, keys)
