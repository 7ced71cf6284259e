"""A court acts only on its own case numbers (issue 21 item 1; courtbus.domain.case_owner)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.policies import EXAMPLES_PATH, load_policies, parse_policies
from courtbus.domain.case_owner import CaseOwnership, check_case_owner, is_superior
from courtbus.errors import ConfigError, ValidationError
from courtbus.gateway.decisions import Gateway
from courtbus.wire import values as v
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope
from courtbus.wire.memory import MemoryRegistry
from courtbus.wire.schemas import SchemaSet
from tests.builders import one_per_flow
from tests.gateway_cases import Raw

DIRECTORY = load_directory()
SAMPLES = {s[2].rsplit(".", 1)[1]: s for s in one_per_flow()}

# The four accepted bad inputs: (record, the sender's sample, another court's case)
FOREIGN = [
    ("RestrictionIssued", "(2024)粤08执17号"),  # from court 3205
    ("DebtorListed", "(2024)苏0583执17号"),  # from court 4408
    ("DelegationRequested", "(2024)粤08执17号"),  # from court 320583
    ("DistributionOpened", "(2024)苏0583执17号"),  # from court 50
    ("CaseFiled", "(2024)苏05执17号"),  # from court 3174
]


@pytest.fixture
def envelope() -> Envelope:
    return Envelope(AvroCodec(SchemaSet.load(), MemoryRegistry(), auto_register=True))


def _raw(envelope: Envelope, short: str, **changes: Any) -> Raw:
    source, topic, record, payload = copy.deepcopy(SAMPLES[short])
    payload.update(changes)
    out = envelope.build(topic, record, payload, source)
    return Raw(topic, out.key, out.value, list(out.headers))


@pytest.mark.parametrize(("short", "case"), FOREIGN, ids=[f[0] for f in FOREIGN])
def test_the_gateway_refuses_a_step_on_another_courts_case(
    envelope: Envelope, short: str, case: str
) -> None:
    gateway = Gateway(envelope, DIRECTORY, load_policies(DIRECTORY))
    gateway.check(_raw(envelope, short))  # the sample itself, on its own case, passes
    with pytest.raises(ValidationError) as err:
        gateway.check(_raw(envelope, short, case_number=v.case_number(case)))
    assert err.value.code == "CASE_NOT_SENDERS"
    assert case in err.value.reason and "第二条" in err.value.reason


def test_a_superior_court_acts_on_a_lower_courts_case_only_when_configured(
    envelope: Envelope,
) -> None:
    # court 3205 (苏州中院) on 昆山's case: refused by the shipped rules, let through by the
    # example that allows 提级执行 under the original number
    raw = _raw(envelope, "RestrictionIssued", case_number=v.case_number("(2024)苏0583执9号"))
    with pytest.raises(ValidationError, match="CASE_NOT_SENDERS"):
        Gateway(envelope, DIRECTORY, load_policies(DIRECTORY)).check(raw)
    examples = load_policies(DIRECTORY, EXAMPLES_PATH)
    assert examples.case_ownership.superior_may_act and examples.case_ownership.example
    Gateway(envelope, DIRECTORY, examples).check(raw)
    # never the other way: a lower court on its superior's case
    up = _raw(envelope, "DelegationRequested", case_number=v.case_number("(2024)苏05执9号"))
    with pytest.raises(ValidationError, match="CASE_NOT_SENDERS"):
        Gateway(envelope, DIRECTORY, examples).check(up)


def test_rules() -> None:
    check_case_owner("(2024)苏0583执1号", "320583", "320583", "x")
    assert is_superior("3205", "320583") and is_superior("32", "320583")
    assert not is_superior("320583", "3205") and not is_superior("3205", "3205")
    assert not is_superior("4408", "320583")
    assigned = CaseOwnership(assigned={"(2024)粤08执7号": "4409"})
    check_case_owner("(2024)粤08执7号", "4408", "4409", "x", assigned)
    with pytest.raises(ValidationError, match="CASE_NOT_SENDERS"):
        check_case_owner("(2024)粤08执8号", "4408", "4409", "x", assigned)
    with pytest.raises(ValidationError, match="CASE_NOT_SENDERS"):
        check_case_owner("(2024)粤08执7号", "4408", "4417", "x", assigned)


def _policies(case_numbers: Any) -> Any:
    legal = dict(load_policies(DIRECTORY).legal_max_freeze_days)
    return parse_policies({"legal_max_freeze_days": legal, "case_numbers": case_numbers}, DIRECTORY)


def test_the_configuration_is_checked() -> None:
    ok = _policies(
        {
            "assigned": [{"case": "(2024)粤08执7号", "court": "4409"}],
            "source": "执行程序解释 (2020 修正) 第十一条",
        }
    )
    assert ok.case_ownership.assigned == {"(2024)粤08执7号": "4409"}
    assert not ok.case_ownership.superior_may_act
    for bad in (
        {"superior_may_act": True},  # no source outside an examples file
        {"superior_may_act": "yes", "source": "执行程序解释 第十一条"},
        {"assigned": [{"case": "(2024)粤08执7号", "court": "1101"}], "source": "第十一条"},
        {"assigned": [{"case": "粤08执7号", "court": "4409"}], "source": "第十一条"},
        {"other": 1},
    ):
        with pytest.raises(ConfigError):
            _policies(bad)
