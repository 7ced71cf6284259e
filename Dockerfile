# The courtbus image, for docker-compose.yml (`make demo` and `make test` need no Docker).
# Stage 1 builds the wheel from this checkout; stage 2 installs only that wheel into a clean
# Python and runs it as an unprivileged user, from the installed package (the schemas, topic
# catalogue, directory and policies are package data): no source tree in the image.
#
#   docker build -t courtbus .
#   docker run --rm courtbus directory check
#   docker run --rm -e COURTBUS_BOOTSTRAP=... -e COURTBUS_REGISTRY_URL=... courtbus serve gateway

FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY courtbus courtbus
COPY services services
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
COPY --from=wheel /dist /tmp/dist
RUN pip install --no-cache-dir /tmp/dist/*.whl \
    && rm -rf /tmp/dist \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/courtbus \
       --shell /usr/sbin/nologin courtbus
# The stack home (and so the SQLite read model, if COURTBUS_STORE_URL is unset) and the
# workers' state folders: one volume, owned by the service user.
ENV PYTHONUNBUFFERED=1 \
    COURTBUS_STACK_HOME=/var/lib/courtbus \
    COURTBUS_STATE_DIR=/var/lib/courtbus/state
USER courtbus:courtbus
WORKDIR /var/lib/courtbus
VOLUME ["/var/lib/courtbus"]
ENTRYPOINT ["courtbus"]
CMD ["--help"]
