# syntax=docker/dockerfile:1
#
# obgw container image.
#
#   docker build -t obgw:0.1.0 .
#   docker run --rm -p 8000:8000 --read-only --tmpfs /tmp -v obgw-data:/var/lib/obgw obgw:0.1.0
#
# The image runs as uid/gid 10001 and writes only to the data directory (/var/lib/obgw,
# a volume) and /tmp, so it runs with a read-only root filesystem (helm/obgw does so).

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: wheels for the project and its dependencies, installed into /opt/venv ------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Project metadata first, then only
# the packages that ship.
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY policies ./policies
COPY adapters ./adapters
COPY sandbox ./sandbox

# Byte-code is compiled here, checked by hash rather than mtime, so nothing needs writing at
# run time (the root filesystem is read-only and PYTHONDONTWRITEBYTECODE is set).
RUN pip wheel --wheel-dir /wheels . \
 && pip install --no-index --no-compile --find-links /wheels obgw \
 && rm -rf /wheels \
 && python -m compileall -q -f -j 0 --invalidation-mode unchecked-hash /opt/venv/lib \
 && obgw --help > /dev/null

# --- runtime -----------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="obgw" \
      org.opencontainers.image.description="Open-banking capability gateway" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 obgw \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/obgw --shell /usr/sbin/nologin obgw \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/obgw

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/obgw \
    OBGW_DATA_DIR=/var/lib/obgw

WORKDIR /app
VOLUME ["/var/lib/obgw"]
USER 10001:10001
EXPOSE 8000

# For docker / compose; Kubernetes uses the chart's probes instead (no curl in slim images).
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]

ENTRYPOINT ["obgw"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
