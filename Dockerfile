# The wattprint team server: `docker compose up` with compose.yaml runs it beside PostgreSQL.
# Build from the source tree: docker build -t wattprint-server .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user owns the data folder (SQLite database and pepper when no PostgreSQL or
# secret is configured); the server never runs as root.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/wattprint --create-home \
        --shell /usr/sbin/nologin wattprint

WORKDIR /build
COPY pyproject.toml README.md LICENSE ATTRIBUTION.md ./
COPY src ./src
RUN pip install ".[server]" && rm -rf /build
COPY docker/entrypoint.sh /usr/local/bin/wattprint-entrypoint

# Listen on every interface inside the container; publish the port to choose who reaches it.
ENV WATTPRINT_HOME=/var/lib/wattprint \
    WATTPRINT_SERVER_HOST=0.0.0.0 \
    WATTPRINT_SERVER_PORT=8000
USER wattprint
WORKDIR /var/lib/wattprint
VOLUME ["/var/lib/wattprint"]
EXPOSE 8000

# python's standard library, not curl (the slim image has none): 0 when /healthz answers 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request\ntry:\n    answer = urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('WATTPRINT_SERVER_PORT', '8000'), timeout=4)\nexcept OSError:\n    sys.exit(1)\nsys.exit(0 if answer.status == 200 else 1)"]

ENTRYPOINT ["wattprint-entrypoint"]
