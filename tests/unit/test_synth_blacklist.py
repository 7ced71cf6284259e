"""The synthetic national list: valid identities and case numbers, legal periods, adults only,
deterministic, unique ids, every payload encodable; the JSON-lines CLI. No I/O but a temp file."""

from __future__ import annotations

import json
import time
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from stdnum.cn import ric, uscc
from typer.testing import CliRunner

from courtbus.app.cli.main import app
from courtbus.domain import blacklist as bl
from courtbus.domain.calendar import CHINA
from courtbus.domain.case_numbers import CaseNumber
from courtbus.domain.id_types import DebtorKind
from courtbus.domain.identity import validate_debtor_id
from courtbus.domain.regions import BY_CODE
from courtbus.errors import ValidationError
from courtbus.runtime.harness import memory_envelope
from courtbus.synth import blacklist as synth

N = 5_000
ENTRY = "cn.court.bus.blacklist.BlacklistEntry"
LISTING = "cn.court.bus.blacklist.DebtorListed"


@pytest.fixture(scope="module")
def entries() -> list[dict]:
    return list(synth.entry_payloads(N, seed=7))


@pytest.fixture(scope="module")
def listings() -> list[dict]:
    return list(synth.listing_payloads(N, seed=7))


def test_every_debtor_id_validates_strictly(entries: list[dict]) -> None:
    kinds = {e["debtor"]["kind"] for e in entries}
    assert kinds == {"PERSON", "ORGANISATION"}
    for e in entries:
        debtor = e["debtor"]
        assert validate_debtor_id(debtor["kind"], debtor["id_number"], strict=True)
        if debtor["kind"] == "PERSON":
            assert ric.is_valid(debtor["id_number"])  # stdnum knows the region at the birth year


def test_organisations_have_valid_codes_and_a_legal_representative(entries: list[dict]) -> None:
    organisations = [e for e in entries if e["debtor"]["kind"] == "ORGANISATION"]
    assert 0.1 < len(organisations) / N < 0.2
    for e in organisations:
        code = e["debtor"]["id_number"]
        assert uscc.is_valid(code) and code.startswith("91")
        assert code[2:8] == e["listing_court"]["court_id"].ljust(6, "0")  # registered locally
        assert synth.organisation_code_check(code[8:16]) == code[16]
        assert e["legal_representative"]
        assert validate_debtor_id(DebtorKind.PERSON, e["legal_representative_id"], strict=True)
    persons = [e for e in entries if e["debtor"]["kind"] == "PERSON"]
    assert all(e["legal_representative"] is None for e in persons)


def test_check_characters_agree_with_stdnum() -> None:
    assert synth.resident_id_check("11010119900307451") == ric.calc_check_digit(
        "110101199003074514"
    )
    for e in islice(synth.entry_payloads(500, seed=3), 500):
        number = e["debtor"]["id_number"]
        if len(number) == 18 and number[:2] != "91":
            assert synth.resident_id_check(number[:17]) == ric.calc_check_digit(number)
        else:
            assert synth.credit_code_check(number[:17]) == uscc.calc_check_digit(number)
    assert synth.organisation_code_check("60003734") == "1"  # 91110000600037341L


def test_case_numbers_parse_and_name_the_listing_court(entries: list[dict]) -> None:
    for e in entries:
        case = e["case_number"]
        parsed = CaseNumber.parse(case["text"])
        assert (parsed.year, parsed.court_id, parsed.type_code, parsed.sequence) == (
            case["year"],
            case["court_id"],
            case["type_code"],
            case["sequence"],
        )
        assert parsed.court_id[:2] in BY_CODE
        assert e["listing_court"] == {
            "court_id": parsed.court_id,
            "designation": parsed.designation,
        }
        assert e["filed_at"] < e["listed_at"]
        assert parsed.year == e["filed_at"].astimezone(CHINA).year


def test_persons_are_adults_at_listing(listings: list[dict]) -> None:
    ids = [(p["debtor"]["id_number"], p) for p in listings if p["debtor"]["kind"] == "PERSON"]
    ids += [(p["legal_representative_id"], p) for p in listings if p["legal_representative_id"]]
    for number, p in ids:
        born = bl.birth_date(number)
        assert born is not None
        age = bl.age_on(born, p["listed_at"].astimezone(CHINA).date())
        assert 18 <= age <= 80


def test_periods_follow_the_ground(entries: list[dict]) -> None:
    grounds = {e["ground"] for e in entries}
    assert grounds == {g.value for g in bl.Ground}
    for e in entries:
        ground = bl.Ground(e["ground"])
        bl.check_period(ground, e["serious"], e["period_months"])
        if ground is bl.Ground.REFUSED_WITH_ABILITY:
            assert e["period_months"] is None and e["expires_at"] is None
        else:
            assert e["period_months"] == 24 or (e["serious"] and 36 <= e["period_months"] <= 60)
            assert e["expires_at"] == bl.expires_at(e["listed_at"], e["period_months"])
            assert e["expires_at"] > synth.AS_OF  # still ACTIVE on the day of the snapshot
        assert e["listed_at"] < synth.AS_OF
        assert (e["status"], e["version"], e["delisted_at"], e["reason"]) == (
            "ACTIVE",
            1,
            None,
            None,
        )
        assert e["updated_at"] == e["listed_at"]


def test_listings_pass_the_listing_rules(listings: list[dict]) -> None:
    for p in listings:
        bl.check_listing(
            bl.Listing(
                debtor_kind=p["debtor"]["kind"],
                debtor_id=p["debtor"]["id_number"],
                ground=bl.Ground(p["ground"]),
                serious=p["serious"],
                period_months=p["period_months"],
                listed_at=p["listed_at"],
                legal_representative=p["legal_representative"],
                performance=p["performance"],
                conduct=p["conduct"],
                title_issuer=p["title_issuer"],
                title_number=p["title_number"],
                filed_at=p["filed_at"],
            )
        )
        if p["applicant"] is not None:
            applicant = p["applicant"]
            assert validate_debtor_id(applicant["kind"], applicant["id_number"], strict=True)


def test_same_seed_same_entries_other_seed_other_entries() -> None:
    first = list(synth.entry_payloads(300, seed=1))
    assert first == list(synth.entry_payloads(300, seed=1))
    other = list(synth.entry_payloads(300, seed=2))
    assert [e["debtor"] for e in first] != [e["debtor"] for e in other]
    assert first[0]["entry_id"] == "bl-1-00000000" and other[0]["entry_id"] == "bl-2-00000000"


def test_a_window_gives_the_same_entries_as_the_whole_run() -> None:
    start = synth.BLOCK - 5  # across a block boundary
    whole = list(synth.entry_payloads(start + 10, seed=4))
    assert list(synth.entry_payloads(10, seed=4, start=start)) == whole[start:]


def test_entry_ids_are_unique_over_100k() -> None:
    started = time.perf_counter()
    ids = [e["entry_id"] for e in synth.entry_payloads(100_000, seed=9)]
    elapsed = time.perf_counter() - started
    assert len(set(ids)) == 100_000
    print(f"\nsynthetic entries: {100_000 / elapsed:,.0f}/s (unit-test machine, not asserted)")


def test_every_payload_encodes(entries: list[dict], listings: list[dict]) -> None:
    envelope = memory_envelope()
    for record, payloads in ((ENTRY, entries), (LISTING, listings)):
        for payload in payloads:
            built = envelope.build("blacklist.entries", record, payload, "bus:synth")
            assert built.key == payload["entry_id"].encode()


def test_directory_courts_can_list() -> None:
    from courtbus.catalogue.directory import load_directory

    courts = [synth.synth_court(c.id, c.name) for c in load_directory().courts]
    listed = list(synth.listing_payloads(500, seed=5, courts=courts))
    assert {p["listing_court"]["court_id"] for p in listed} == {c.court_id for c in courts}
    for p in listed:
        assert CaseNumber.parse(p["case_number"]["text"]).court_id == p["listing_court"]["court_id"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"count": -1}, "SYNTH_INVALID"),
        ({"count": 1, "courts": []}, "SYNTH_INVALID"),
        ({"count": 1, "courts": ["90"]}, "COURT_ID_MALFORMED"),
        ({"count": 1, "as_of": datetime(2023, 1, 1)}, "SYNTH_INVALID"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        list(synth.entry_payloads(**kwargs))
    assert caught.value.code == code


def test_cli_writes_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "entries.jsonl"
    result = CliRunner().invoke(
        app, ["blacklist", "generate", "--count", "1234", "--out", str(path)]
    )
    assert result.exit_code == 0, result.output
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1234
    first = json.loads(lines[0])
    assert first["entry_id"] == "bl-0-00000000"
    assert datetime.fromisoformat(first["listed_at"]).tzinfo is not None


def test_cli_writes_listings(tmp_path: Path) -> None:
    path = tmp_path / "listings.jsonl"
    args = [
        "blacklist",
        "generate",
        "--count",
        "10",
        "--seed",
        "3",
        "--listings",
        "--out",
        str(path),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert all("applicant" in json.loads(line) for line in path.read_text().splitlines())


@pytest.mark.parametrize(
    "args",
    [
        ["--count", "0"],
        ["--count", "5", "--out", "x.jsonl", "--topic", "blacklist.entries"],
        ["--count", "5", "--out", "/nonexistent-folder/x.jsonl"],
        ["--count", "5", "--topic", " "],
    ],
)
def test_cli_checks_options_before_connecting(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from courtbus.app.cli import blacklist_generate

    def connect(*_a: object, **_k: object) -> None:
        raise AssertionError("connected before checking the options")

    monkeypatch.setattr(blacklist_generate, "cli_connection", connect)
    result = CliRunner().invoke(app, ["blacklist", "generate", *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, ValidationError)
    assert result.exception.code == "SYNTH_INVALID"


def _no_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    from courtbus.app.cli import blacklist_generate

    def connect(*_a: object, **_k: object) -> None:
        raise AssertionError("connected to Kafka without --topic")

    monkeypatch.setattr(blacklist_generate, "cli_connection", connect)


def _directory_courts() -> set[str]:
    from courtbus.catalogue.directory import load_directory

    return {c.id for c in load_directory().courts}


def test_cli_writes_a_file_by_default_never_kafka(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22: `generate --count 30000 --seed 7` wrote into the live blacklist.entries."""
    _no_kafka(monkeypatch)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["blacklist", "generate", "--count", "300", "--seed", "7"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "blacklist-entries-seed7.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 300
    # only courts of the participant directory list (440203, 5201 ... stalled the services)
    listed = {json.loads(line)["listing_court"]["court_id"] for line in lines}
    assert listed <= _directory_courts()


def test_cli_refuses_a_court_not_in_the_directory_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_kafka(monkeypatch)
    path = tmp_path / "e.jsonl"
    args = ["blacklist", "generate", "--count", "20", "--out", str(path), "--court", "440203"]
    refused = CliRunner().invoke(app, args)
    assert isinstance(refused.exception, ValidationError)
    assert refused.exception.code == "COURT_UNKNOWN"
    assert "440203" in refused.exception.reason and not path.exists()
    allowed = CliRunner().invoke(app, [*args, "--allow-unknown-courts"])
    assert allowed.exit_code == 0, allowed.output
    lines = path.read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["listing_court"]["court_id"] for line in lines} == {"440203"}


def test_cli_chosen_directory_courts_and_the_national_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_kafka(monkeypatch)
    court = sorted(_directory_courts())[0]
    path = tmp_path / "e.jsonl"
    base = ["blacklist", "generate", "--count", "2000", "--out", str(path)]
    assert CliRunner().invoke(app, [*base, "--court", court]).exit_code == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["listing_court"]["court_id"] for line in lines} == {court}
    # --allow-unknown-courts alone: the generator's national table, as the benches use it
    assert CliRunner().invoke(app, [*base, "--allow-unknown-courts"]).exit_code == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    national = [json.loads(line) for line in lines]
    assert national == [synth.jsonable(p) for p in synth.entry_payloads(2000)]
    assert {p["listing_court"]["court_id"] for p in national} - _directory_courts()


def test_cli_produces_to_kafka_only_with_a_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    from courtbus.app.cli import blacklist_generate
    from courtbus.synth import kafka

    calls: list[dict[str, Any]] = []

    def write_entries(_conn: object, count: int, **kwargs: Any) -> int:
        calls.append(kwargs)
        return count

    monkeypatch.setattr(blacklist_generate, "cli_connection", lambda: object())
    monkeypatch.setattr(kafka, "write_entries", write_entries)
    result = CliRunner().invoke(
        app, ["blacklist", "generate", "--count", "5", "--topic", "test.blacklist"]
    )
    assert result.exit_code == 0, result.output
    [call] = calls
    assert call["topic"] == "test.blacklist"
    assert {c.court_id for c in call["courts"]} == _directory_courts()
