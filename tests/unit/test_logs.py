"""Resident IDs never reach a log line in full; library chatter stays out of the services' log."""

from __future__ import annotations

import logging

import pytest

from courtbus.logs import HTTP_LOGGERS, IdMaskingFilter, configure_logging


def test_ids_in_log_messages_and_arguments_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("courtbus.test")
    caplog.handler.addFilter(IdMaskingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("listing debtor %s in case %s", "11010519491231002X", "(2023)苏0583执1234号")
        logger.info("plain 320583199303121234 inline")
    assert "11010519491231002X" not in caplog.text
    assert "320583199303121234" not in caplog.text
    assert "110105********002X" in caplog.text and "320583********1234" in caplog.text
    assert "(2023)苏0583执1234号" in caplog.text


def test_services_log_no_line_per_registry_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx logs each request at INFO; the services log at INFO, so it is held at WARNING."""
    for name in HTTP_LOGGERS:
        log = logging.getLogger(name)
        monkeypatch.setattr(log, "level", logging.NOTSET)
    configure_logging(logging.INFO)
    httpx_log = logging.getLogger("httpx")
    assert not httpx_log.isEnabledFor(logging.INFO)
    assert httpx_log.isEnabledFor(logging.WARNING)
