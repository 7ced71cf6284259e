"""What each kind of participant may send, and which payload field names the sender.

Pure data and checks over decoded payloads; imports the domain layer, the error tree, the flow
registry (the senders are its specs') and the catalogue's ``Directory`` (the court directory
that courts in a payload are looked up in), and no Kafka client.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from courtbus.catalogue.directory import Directory
from courtbus.domain.case_numbers import CaseNumber
from courtbus.domain.case_owner import CaseOwnership, check_owned_cases
from courtbus.domain.identity import validate_debtor_id
from courtbus.domain.money import amount_ok, check_amount
from courtbus.domain.text import FREE_TEXT_FIELDS, check_text, text_ok
from courtbus.errors import ValidationError
from courtbus.flows.registry import LiveMapping, registered


def _senders() -> dict[str, tuple[str, str | None]]:
    return {
        m.name: (m.sender, m.sender_field)
        for spec in registered()
        for m in spec.messages
        if m.sender is not None
    }


# record short name -> (participant kind allowed to send it, payload field naming the sender),
# from the flows' specs (``courtbus.flows``): a message with no sender kind (a delivery, a
# notice, a view record, a step the bus takes itself) is the bus's own, no participant may send
# it. A ``None`` field: the flow checks the sender (the presiding court's distribution steps).
SENDERS: Mapping[str, tuple[str, str | None]] = LiveMapping(_senders)

_CASE_FIELDS = frozenset({"text", "year", "court_id", "type_code", "sequence"})
_COURT_FIELDS = frozenset({"court_id", "designation"})
_DEBTOR_REQUIRED = frozenset({"kind", "name", "id_number"})
# id_type and nationality (a passport's issuing state) came later, optional with null defaults:
# a decoded Debtor has all five, a record built by hand may lack the optional two.
_DEBTOR_FIELDS = _DEBTOR_REQUIRED | {"id_type", "nationality"}


def check_sender(record: str, source_kind: str, source_id: str, payload: dict[str, Any]) -> None:
    """The sender may send this type, and the payload names the sender where it names one.

    Raises:
        ValidationError: ``TYPE_NOT_ALLOWED`` or ``SOURCE_NOT_PARTY``.
    """
    short = record.rsplit(".", 1)[1]
    allowed = SENDERS.get(short)
    if allowed is None or allowed[0] != source_kind:
        raise ValidationError(f"a {source_kind} may not send {short}", code="TYPE_NOT_ALLOWED")
    field = allowed[1]
    if field is None:
        return
    named = payload.get(field)
    named_id = named.get("court_id") if isinstance(named, dict) else named
    if named_id != source_id:
        raise ValidationError(
            f"{short}.{field} is {named_id!r} but the record came from {source_kind} {source_id}",
            code="SOURCE_NOT_PARTY",
        )


def check_case_owner(
    record: str, source_kind: str, source_id: str, payload: dict[str, Any], ownership: CaseOwnership
) -> None:
    """A court acts only on its own case numbers (``courtbus.domain.case_owner``): run after
    the payload checks, which make each case number's ``court_id`` agree with its text.

    Raises:
        ValidationError: ``CASE_NOT_SENDERS``.
    """
    if source_kind == "court":
        check_owned_cases(record.rsplit(".", 1)[1], payload, source_id, ownership)


def _walk(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every record (dict) inside ``node`` with its path, in document order; scalars skipped."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                yield from _walk(value, f"{path}.{key}" if path else key)
    else:
        for i, value in enumerate(node):
            if isinstance(value, (dict, list)):
                yield from _walk(value, f"{path}[{i}]")


def check_values(payload: dict[str, Any]) -> None:
    """Every string in a payload is clean text, and every amount is money, wherever they are.

    Strings: no control or bidirectional formatting characters (``\\n`` and ``\\t`` only in
    the free-text fields of ``courtbus.domain.text.FREE_TEXT_FIELDS``, and in the items of a
    list in one), and NFC. Amounts: every ``Decimal`` — the only decimal type in the schemas
    is ``cn.court.bus.Money`` — is checked by ``check_amount``, in every message type (claims,
    plans, progress, cases, requests). A first pass builds no paths (the gateway's hot path);
    a payload it finds fault with is walked again to name the field.

    Raises:
        ValidationError: ``TEXT_CONTROL_CHARACTER``, ``TEXT_BIDI_CONTROL``, ``TEXT_NOT_NFC``,
            ``MONEY_OUT_OF_RANGE`` or ``MONEY_INVALID``, naming the field's path.
    """
    if not _clean(payload, free_text=False):
        _check_values(payload, "", free_text=False)


def _clean(node: dict[str, Any] | list[Any], *, free_text: bool) -> bool:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for name, value in items:
        if isinstance(value, str):
            if not text_ok(value, free_text=name in FREE_TEXT_FIELDS or free_text):
                return False
        elif isinstance(value, Decimal):
            if not amount_ok(value):
                return False
        elif isinstance(value, (dict, list)) and not _clean(
            value, free_text=name in FREE_TEXT_FIELDS or free_text
        ):
            return False
    return True


def _check_values(node: dict[str, Any] | list[Any], path: str, *, free_text: bool) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for name, value in items:
        where = f"{path}[{name}]" if isinstance(name, int) else f"{path}.{name}" if path else name
        if isinstance(value, str):
            check_text(value, where, free_text=name in FREE_TEXT_FIELDS or free_text)
        elif isinstance(value, Decimal):
            check_amount(value, where)
        elif isinstance(value, (dict, list)):
            _check_values(value, where, free_text=name in FREE_TEXT_FIELDS or free_text)


def check_identities(payload: dict[str, Any], directory: Directory) -> None:
    """Every case number, court and debtor inside a payload is valid and consistent.

    Raises:
        ValidationError: ``CASE_NUMBER_*``, ``CASE_NUMBER_INCONSISTENT``, ``COURT_UNKNOWN``,
            ``COURT_DESIGNATION_MISMATCH``, ``RESIDENT_ID_INVALID``, ``CREDIT_CODE_INVALID``,
            ``PASSPORT_INVALID``, ``ID_TYPE_MISMATCH``, ``ID_NOT_CANONICAL``,
            ``DEBTOR_NAME_MISSING``.
    """
    for path, node in _walk(payload, ""):
        keys = frozenset(node)
        if keys == _CASE_FIELDS:
            parsed = CaseNumber.parse(str(node["text"]))
            parts = (parsed.year, parsed.court_id, parsed.type_code, parsed.sequence)
            if parts != (node["year"], node["court_id"], node["type_code"], node["sequence"]):
                raise ValidationError(
                    f"{path}: the parts of case number {node['text']} do not match its text",
                    code="CASE_NUMBER_INCONSISTENT",
                )
        elif keys == _COURT_FIELDS:
            court = directory.court(str(node["court_id"]))
            if court.designation != node["designation"]:
                raise ValidationError(
                    f"{path}: court {court.id} is {court.designation}, not {node['designation']}",
                    code="COURT_DESIGNATION_MISMATCH",
                )
        elif _DEBTOR_REQUIRED <= keys <= _DEBTOR_FIELDS:
            if not str(node["name"]).strip():
                raise ValidationError(f"{path}: debtor has no name", code="DEBTOR_NAME_MISSING")
            # strict: the wire carries one spelling (the SDK canonicalises): ID_NOT_CANONICAL
            validate_debtor_id(
                str(node["kind"]),
                str(node["id_number"]),
                strict=True,
                id_type=node.get("id_type"),
                nationality=node.get("nationality"),
            )


class Memo:
    """Inputs a pure check accepted: case numbers (their parts) and debtor IDs, bounded.

    Case numbers and debtors recur (a case's steps, a debtor's several cases), and parsing a
    case number or checking an ID costs more than the rest of a record's checks. Only what
    passed is kept; the memo is emptied when it reaches ``size`` entries, so memory stays
    bounded whatever the traffic.
    """

    def __init__(self, size: int = 65_536) -> None:
        self.size = size
        self.cases: dict[str, tuple[object, ...]] = {}
        self.debtors: set[Hashable] = set()

    def case_parts(self, text: object) -> tuple[object, ...] | None:
        """(year, court_id, type_code, sequence) of a valid case number, or None."""
        if not isinstance(text, str):
            return None
        parts = self.cases.get(text)
        if parts is None:
            try:
                parsed = CaseNumber.parse(text)
            except ValidationError:
                return None
            if len(self.cases) >= self.size:
                self.cases.clear()
            parts = self.cases[text] = (
                parsed.year,
                parsed.court_id,
                parsed.type_code,
                parsed.sequence,
            )
        return parts

    def debtor_ok(self, node: Mapping[str, Any]) -> bool:
        """Whether a debtor record's ID passes ``validate_debtor_id`` (strict)."""
        key = (node["kind"], node["id_number"], node.get("id_type"), node.get("nationality"))
        if not all(part is None or isinstance(part, str) for part in key):
            return False  # not a decoded payload: the full check says what is wrong
        if key in self.debtors:
            return True
        try:
            validate_debtor_id(
                str(node["kind"]),
                str(node["id_number"]),
                strict=True,
                id_type=node.get("id_type"),
                nationality=node.get("nationality"),
            )
        except ValidationError:
            return False
        if len(self.debtors) >= self.size:
            self.debtors.clear()
        self.debtors.add(key)
        return True


def payload_ok(payload: dict[str, Any], designations: Mapping[str, str], memo: Memo) -> bool:
    """Whether ``check_values`` and ``check_identities`` would both pass: the gateway's fast test.

    One walk, no paths built, recurring case numbers and debtors looked up in ``memo``;
    ``designations`` maps each court id of the directory to its designation. False means
    something is wrong: run the two checks to raise the refusal naming the field (a record
    this test doubts is always given to them, so it is never stricter than they are).
    """
    return _payload_ok(payload, False, designations, memo)


def _payload_ok(
    node: dict[str, Any] | list[Any],
    free_text: bool,
    designations: Mapping[str, str],
    memo: Memo,
) -> bool:
    if isinstance(node, dict):
        keys = node.keys()
        size = len(node)
        if size == 5 and keys == _CASE_FIELDS:
            parts = memo.case_parts(node["text"])
            if parts is None or parts != (
                node["year"],
                node["court_id"],
                node["type_code"],
                node["sequence"],
            ):
                return False
        elif size == 2 and keys == _COURT_FIELDS:
            designation = designations.get(str(node["court_id"]))
            if designation is None or designation != node["designation"]:
                return False
        elif (
            3 <= size <= 5
            and _DEBTOR_REQUIRED <= keys <= _DEBTOR_FIELDS
            and (not str(node["name"]).strip() or not memo.debtor_ok(node))
        ):
            return False
        items: Any = node.items()
    else:
        items = enumerate(node)
    for name, value in items:
        if isinstance(value, str):
            if not text_ok(value, free_text=free_text or name in FREE_TEXT_FIELDS):
                return False
        elif isinstance(value, Decimal):
            if not amount_ok(value):
                return False
        elif isinstance(value, (dict, list)) and not _payload_ok(
            value, free_text or name in FREE_TEXT_FIELDS, designations, memo
        ):
            return False
    return True
