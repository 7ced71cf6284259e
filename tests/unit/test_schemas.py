"""The schema set: complete, self-contained, and every message type round-trips (Hypothesis)."""

from __future__ import annotations

import json
from typing import Any

import avro.schema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courtbus.errors import SchemaError
from courtbus.wire.codec import AvroCodec
from courtbus.wire.messages import MESSAGE_TYPES
from courtbus.wire.schemas import SchemaSet
from tests.avro_strategies import strategy
from tests.fakes import MemoryRegistry

SCHEMAS = SchemaSet.load()
NAMES = sorted(SCHEMAS.messages)

REQUIRED_TYPES = {
    "delegation": {
        "Requested",
        "Accepted",
        "Rejected",
        "ProgressReported",
        "Completed",
        "Failed",
        "Cancelled",
    },
    "blacklist": {"DebtorListed", "DebtorListingUpdated", "DebtorDelisted"},
    "restriction": {
        "RestrictionIssued",
        "RestrictionAcknowledged",
        "RestrictionRejected",
        "RestrictionLifted",
        "InterceptionReported",
    },
    "distribution": {
        "Opened",
        "ClaimFiled",
        "ClaimAdmitted",
        "ClaimRejected",
        "PlanIssued",
        "ObjectionFiled",
        "Finalized",
    },
    "casestatus": {"CaseFiled", "CaseConcluded", "CaseResumed"},
    "notice": {"MessageRejected"},
}


def test_every_message_type_the_flows_need_exists() -> None:
    for flow, wanted in REQUIRED_TYPES.items():
        have = {n.rsplit(".", 1)[1] for n in NAMES if n.split(".")[3] == flow}
        prefix = {"delegation": "Delegation", "distribution": "Distribution"}.get(flow, "")
        assert {prefix + w for w in wanted} <= have, flow


def test_catalogue_and_schemas_name_the_same_types() -> None:
    assert {m.record for m in MESSAGE_TYPES} == set(NAMES)
    assert len({m.ce_type for m in MESSAGE_TYPES}) == len(MESSAGE_TYPES)


@pytest.mark.parametrize("name", NAMES)
def test_inlined_schemas_parse_in_avro_too(name: str) -> None:
    parsed = avro.schema.parse(SCHEMAS.message(name).text)
    assert parsed.fullname == name


def test_shared_named_types_are_used() -> None:
    text = SCHEMAS.message("cn.court.bus.delegation.DelegationRequested").text
    for shared in (
        "cn.court.bus.Court",
        "cn.court.bus.CaseNumber",
        "cn.court.bus.Debtor",
        "cn.court.bus.Money",
    ):
        assert f'"name":"{shared}"' in text
    money = next(f for f in json.loads(text)["fields"] if f["name"] == "amount")["type"][1]
    assert (money["logicalType"], money["precision"], money["scale"]) == ("decimal", 18, 2)


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ({"a.B.avsc": "{not json"}, "SCHEMA_FILE_INVALID"),
        (
            {"a.Wrong.avsc": '{"type":"record","name":"B","namespace":"a","fields":[]}'},
            "SCHEMA_FILE_INVALID",
        ),
        (
            {
                "a.B.avsc": '{"type":"record","name":"B","namespace":"a","fields":[{"name":"x","type":"a.Nope"}]}'
            },
            "SCHEMA_UNKNOWN_TYPE",
        ),
        (
            {
                "a.B.avsc": '{"type":"record","name":"B","namespace":"a","fields":[{"name":"x","type":"int","default":"s"}]}'
            },
            "SCHEMA_INVALID",
        ),
    ],
)
def test_bad_schema_files(files: dict[str, str], code: str) -> None:
    with pytest.raises(SchemaError) as info:
        SchemaSet.from_files(files.items(), "mem")
    assert info.value.code == code


CODEC = AvroCodec(SCHEMAS, MemoryRegistry(), auto_register=True)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_schema_round_trips(name: str, data: st.DataObject) -> None:
    payload: dict[str, Any] = data.draw(strategy(SCHEMAS.message(name).json))
    decoded = CODEC.decode(CODEC.encode(name, payload))
    assert decoded.record == name
    assert decoded.payload == payload
