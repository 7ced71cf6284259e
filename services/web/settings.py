"""The web API's settings from the environment (``WebSettings``)."""

from __future__ import annotations

from courtbus.settings import setting
from services.settings import ServiceSettings


class WebSettings(ServiceSettings):
    """Every service's settings (``ServiceSettings``: the cluster wait, of which the API uses
    only that) and the API's own: ``COURTBUS_WEB_PORT`` (default 8000), ``COURTBUS_WEB_ADDR``
    (default 127.0.0.1: put a TLS front in front of it for other hosts) and
    ``COURTBUS_STORE_URL`` (the read model the coordination pages read; default the local
    stack's). The tokens file is ``COURTBUS_WEB_TOKENS`` (``courtbus web token``)."""

    web_port: int = setting(8000, ge=0, le=65535, code="WEB_PORT_INVALID")
    web_addr: str = "127.0.0.1"
    store_url: str | None = None
