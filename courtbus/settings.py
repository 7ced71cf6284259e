"""Settings from the environment: the base of every service's settings class.

``EnvSettings`` is a frozen pydantic-settings model. Each field is read from the variable
``COURTBUS_`` + the field's name in capitals. A blank variable (empty or spaces) counts as
unset. ``load`` turns every bad value into one ``ConfigError`` that names each variable, its
value and what it must be, instead of a traceback.

The error's code is the field's own code (``setting(..., code=...)``). Otherwise it is the
``invalid_code`` of the class that declares the field, so a runtime variable stays
``RUNTIME_CONFIG_INVALID`` in every service's settings. A service's ``__main__`` loads its
class once at start (``services.main.run_service``) and hands the values to its flow; no flow
reads the environment.

Spans of time are ``Seconds``, ``SecondsOrZero`` or ``Days``: a number (of seconds, or days),
positive (or ≥ 0), finite and at least a microsecond.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Self

from pydantic import BeforeValidator, Field, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from courtbus.errors import ConfigError

PREFIX = "COURTBUS_"


def _span(unit: timedelta, unit_name: str, *, zero: bool) -> Callable[[object], timedelta]:
    what = "a number ≥ 0" if zero else "a positive number"

    def parse(raw: object) -> timedelta:
        if isinstance(raw, timedelta):
            span: timedelta | None = raw
        else:
            try:
                span = unit * float(raw)  # type: ignore[arg-type]  # refused below if not
            except (TypeError, ValueError, OverflowError):  # not a number, nan, inf, too long
                span = None
        if span is None or span < timedelta(0) or (span == timedelta(0) and not zero):
            raise ValueError(f"must be {what} of {unit_name}")
        return span

    return parse


Seconds = Annotated[timedelta, BeforeValidator(_span(timedelta(seconds=1), "seconds", zero=False))]
SecondsOrZero = Annotated[
    timedelta, BeforeValidator(_span(timedelta(seconds=1), "seconds", zero=True))
]
Days = Annotated[timedelta, BeforeValidator(_span(timedelta(days=1), "days", zero=False))]


def setting(default: Any, *, code: str | None = None, **field: Any) -> Any:
    """A field with ``default`` and pydantic's bounds (``ge=``, ``le=``...); ``code``: the
    error code a bad value of this variable raises (default: its class's ``invalid_code``)."""
    return Field(default, json_schema_extra={"code": code} if code else None, **field)


class EnvSettings(BaseSettings):
    """Base of the settings classes: frozen, ``COURTBUS_`` prefix, blank is unset, other
    variables ignored. Subclasses set ``invalid_code`` and name every variable in their
    docstring."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, frozen=True, extra="ignore", env_ignore_empty=True
    )
    invalid_code: ClassVar[str] = "CONFIG_INVALID"

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: Any) -> Any:
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        return values

    @classmethod
    def variable(cls, name: str) -> str:
        """The environment variable of field ``name``."""
        return PREFIX + name.upper()

    @classmethod
    def load(cls) -> Self:
        """The settings the process's environment gives.

        Raises:
            ConfigError: the code of the first variable that is wrong (see the module's
                docstring), naming each wrong variable, its value and why.
        """
        try:
            return cls()
        except PydanticValidationError as exc:
            errors = exc.errors()
            names = [str(e["loc"][0]) if e["loc"] else "" for e in errors]
            problems = "; ".join(
                f"{cls.variable(name)}={e['input']!r}: {e['msg'].removeprefix('Value error, ')}"
                for name, e in zip(names, errors, strict=True)
            )
            raise ConfigError(problems, code=cls._code_of(names[0])) from None

    @classmethod
    def _code_of(cls, name: str) -> str:
        field = cls.model_fields.get(name)
        extra = field.json_schema_extra if field is not None else None
        if isinstance(extra, dict) and isinstance(extra.get("code"), str):
            return str(extra["code"])
        for klass in cls.__mro__:  # the class declaring the field
            if name in vars(klass).get("__annotations__", {}):
                return str(vars(klass).get("invalid_code", cls.invalid_code))
        return cls.invalid_code
