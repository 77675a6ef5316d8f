# digestbot image: `docker build -t digestbot .`, then see README.md, "Deploying".
# No settings are baked in: BOT_TOKEN and the rest come from the environment at run time.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtualenv with the project and its dependencies ---------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
RUN python -m venv /opt/digestbot
ENV PATH=/opt/digestbot/bin:$PATH

WORKDIR /src
# Dependencies first, read from pyproject.toml, so that a change to the code alone
# reuses this layer instead of downloading everything again.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt
COPY . .
RUN pip install --no-cache-dir '.[postgres]' \
    && digestbot --help > /dev/null

# --- runtime -------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="digestbot" \
      org.opencontainers.image.licenses="MIT"

ENV PATH=/opt/digestbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/home/digestbot/.matplotlib \
    DATABASE_URL=sqlite+aiosqlite:////data/digest.db \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9180

# /app/data points at the volume, so the relative default `data/digest.db` (as in
# .env.example) lands on /data too and not in the container's own writable layer.
RUN groupadd --system --gid 10001 digestbot \
    && useradd --system --uid 10001 --gid digestbot --create-home --home-dir /home/digestbot \
        --shell /usr/sbin/nologin digestbot \
    && install -d -o digestbot -g digestbot -m 0750 /data \
    && install -d -m 0755 /app \
    && ln -s /data /app/data

COPY --from=build /opt/digestbot /opt/digestbot

USER digestbot
WORKDIR /app
# matplotlib builds its font cache on first use; doing it here keeps the first /stats quick.
RUN python -c "import matplotlib.font_manager"

VOLUME ["/data"]
# WEBHOOK_PORT (webhook mode only) and METRICS_PORT.
EXPOSE 8080 9180

STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('METRICS_PORT') or '9180'), timeout=4)"]

ENTRYPOINT ["digestbot"]
CMD ["run"]
