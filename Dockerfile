# Image for the courtbus services (used by docker-compose.yml; not needed by `make demo/test`).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY courtbus courtbus
COPY services services
COPY schemas schemas
COPY topics topics
COPY policies policies
RUN pip install --no-cache-dir .
ENV PYTHONUNBUFFERED=1
CMD ["python", "-m", "services.gateway"]
