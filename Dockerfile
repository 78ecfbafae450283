# One image for all four Baton services; docker-compose.yml picks the service with its command:
#   python -m intake | python -m router | python -m sla_clock | python -m reporting
# Build:  docker build -t baton .
#
# Runtime dependencies only, exactly as locked (requirements.lock, with hashes): no embedded
# PostgreSQL, no CLI libraries (those are the `local` extra, for `baton stack` on a laptop).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/baton/venv
ENV PATH=/opt/baton/venv/bin:$PATH
WORKDIR /src
# Dependencies first (cached while only the code changes), every file checked against its hash.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml ./
COPY baton/ baton/
COPY shared/ shared/
COPY services/ services/
RUN pip install --no-deps . \
    && find /opt/baton/venv -name '__pycache__' -prune -exec rm -rf {} + \
    && pip uninstall -y pip

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/baton/venv/bin:$PATH \
    BATON_HTTP_HOST=0.0.0.0 \
    BATON_CONTRACT_PATH=/opt/baton/examples/minimal/contract.yaml
# WeasyPrint prints reporting's PDF documents with Pango and needs one font (ADR 18).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
       fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 baton \
    && useradd --system --uid 10001 --gid baton --home-dir /opt/baton --shell /usr/sbin/nologin baton
COPY --from=build /opt/baton/venv /opt/baton/venv
# Example contracts: a fallback default; compose mounts the real contract over /etc/baton/contract.
COPY examples/ /opt/baton/examples/
WORKDIR /opt/baton
USER baton:baton
EXPOSE 8080 8081 8082 8083
# Healthy once the service is ready (/readyz: its database, broker and consumers answer) on its
# own port (BATON_HTTP_PORT); no curl in a slim image, so Python asks.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=6 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('BATON_HTTP_PORT', '8080') + '/readyz', timeout=3)"]
# No default service: each container names its own (see docker-compose.yml).
CMD ["python", "-c", "raise SystemExit('choose a service: python -m intake|router|sla_clock|reporting')"]
