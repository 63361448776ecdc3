# dingdan in a container. compose.yaml runs two of these behind Caddy on PostgreSQL; alone,
# `docker run -e DINGDAN_TOKEN=… -v dingdan:/data IMAGE dingdan run` is the single-team bot (SQLite in /data).
FROM python:3.11-slim

# pg_dump and pg_restore for `dingdan backup` / `dingdan restore` on PostgreSQL (Debian 12's are
# version 15, as compose.yaml's server; they must be the server's major version or newer).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

# A user of its own: the bot never runs as root. /data holds the SQLite file when there is one.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin dingdan \
    && mkdir /data && chown dingdan:dingdan /data && chmod 700 /data

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY locales ./locales
RUN pip install --no-cache-dir . && rm -rf /src

USER dingdan
WORKDIR /data
ENV DINGDAN_DB=/data/dingdan.sqlite3 \
    DINGDAN_LISTEN=0.0.0.0:8443 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8443

# /healthz answers while the webhook server's event loop does (bot/webhook.py). In polling mode
# (no DINGDAN_WEBHOOK_URL) there is no server to ask, and the check passes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; os.environ.get('DINGDAN_WEBHOOK_URL') or sys.exit(0); port = os.environ.get('DINGDAN_LISTEN', '0.0.0.0:8443').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

# Webhook mode, as the tests run it: the address and where to listen come from the environment.
CMD ["/bin/sh", "-c", "exec dingdan run --webhook \"$DINGDAN_WEBHOOK_URL\" --listen \"$DINGDAN_LISTEN\""]
