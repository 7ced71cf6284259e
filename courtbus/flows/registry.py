"""The flow registry: the ``FlowSpec`` of every flow, in registration order, and live views
of the tables derived from them. Imports only ``courtbus.flows.spec`` and the error tree.

A derived table (``courtbus.wire.messages.MESSAGE_TYPES``, the gateway's ``SENDERS``, the feed
router's ``VIEW_TOPICS`` …) is a ``LiveMapping`` or ``LiveSequence`` over a function of the
registered specs, rebuilt when a flow is registered or unregistered, so a flow registered
later (a test's toy flow) is seen by every table with no other edit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Generic, TypeVar, overload

from courtbus.errors import ConfigError
from courtbus.flows.spec import FlowSpec

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

_SPECS: dict[str, FlowSpec] = {}
_generation = [0]  # bumped by every registration change: derived tables rebuild on it


def register(spec: FlowSpec) -> FlowSpec:
    """Add a flow (one line per flow, in ``courtbus/flows/__init__.py``).

    Like quix-streams' registry refusing a second dataframe on one topic, a flow is refused if
    its name, one of its records, its events topic, its view topic or its service is already
    another flow's.

    Raises:
        ConfigError: ``FLOW_DUPLICATE``.
    """
    for other in _SPECS.values():
        clash = _clash(spec, other)
        if clash:
            raise ConfigError(
                f"flow {spec.name!r}: {clash} is already flow {other.name!r}'s",
                code="FLOW_DUPLICATE",
            )
    _SPECS[spec.name] = spec
    _generation[0] += 1
    return spec


def _clash(spec: FlowSpec, other: FlowSpec) -> str | None:
    if spec.name == other.name:
        return f"the name {spec.name!r}"
    records = {spec.record(m.name) for m in spec.messages}
    same = sorted(records & {other.record(m.name) for m in other.messages})
    if same:
        return f"record {same[0]}"
    topics = {spec.events_topic, *((spec.view.topic,) if spec.view else ())}
    theirs = {other.events_topic, *((other.view.topic,) if other.view else ())}
    if topics & theirs:
        return f"topic {sorted(topics & theirs)[0]}"
    if spec.service is not None and spec.service == other.service:
        return f"the service {spec.service!r}"
    return None


def unregister(name: str) -> None:
    """Take a flow out (a test's toy flow, once the test is done); unknown names are ignored."""
    if _SPECS.pop(name, None) is not None:
        _generation[0] += 1


def registered() -> tuple[FlowSpec, ...]:
    """Every registered flow, in registration order."""
    return tuple(_SPECS.values())


def get(name: str) -> FlowSpec:
    """One flow's spec.

    Raises:
        ConfigError: ``FLOW_UNKNOWN``.
    """
    try:
        return _SPECS[name]
    except KeyError:
        raise ConfigError(
            f"unknown flow {name!r}; one of {', '.join(_SPECS)}", code="FLOW_UNKNOWN"
        ) from None


def derived(build: Callable[[], T]) -> Callable[[], T]:
    """``build`` memoised until the registry changes."""
    memo: list[tuple[int, T]] = []

    def current() -> T:
        if not memo or memo[0][0] != _generation[0]:
            memo[:] = [(_generation[0], build())]
        return memo[0][1]

    return current


class LiveMapping(Mapping[K, V]):
    """A read-only mapping that is always ``build()`` of the current registry."""

    __slots__ = ("_current",)

    def __init__(self, build: Callable[[], Mapping[K, V]]) -> None:
        self._current = derived(build)

    def __getitem__(self, key: K) -> V:
        return self._current()[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def __repr__(self) -> str:
        return repr(dict(self._current()))


class LiveSequence(Sequence[T], Generic[T]):
    """A read-only sequence that is always ``build()`` of the current registry."""

    __slots__ = ("_current",)

    def __init__(self, build: Callable[[], Sequence[T]]) -> None:
        self._current = derived(lambda: tuple(build()))

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._current()[index]

    def __len__(self) -> int:
        return len(self._current())

    def __iter__(self) -> Iterator[T]:
        return iter(self._current())

    def __contains__(self, value: object) -> bool:
        return value in self._current()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LiveSequence):
            return self._current() == other._current()
        return self._current() == other

    def __hash__(self) -> int:
        return hash(self._current())

    def __repr__(self) -> str:
        return repr(self._current())


def flow_services() -> tuple[str, ...]:
    """The services of the registered flows that have one, in registration order (case
    status's, the watchdog, last: it reads the other flows)."""
    return tuple(s.service for s in _SPECS.values() if s.service is not None)
