# syntax=docker/dockerfile:1
# One image for every Python process of the connector; the command picks the
# process (see docker-compose.yml and the Helm chart):
#   python -m command_service | sync_worker | query_service.projector |
#   query_service | randomuser_sim
# A second target, `gateway`, is nginx with the dashboard and Swagger UI baked
# in (docker compose and Kubernetes).
#   docker build -t randomuser-connector .
#   docker build --target gateway -t randomuser-connector-gateway .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# nginx stable (1.28): `server ... resolve` re-resolves upstream names.
ARG NGINX_IMAGE=nginx:1.28-alpine

# ---------------------------------------------------------------- builder ---
# Builds the project wheel and wheels of every runtime dependency, so the
# runtime stage installs from local files only and carries no build tools.
# Dependencies come first, pinned by requirements.lock (the lock `make` and
# CI install from), in a layer of their own: a source change rebuilds only
# the project wheel.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > runtime-requirements.txt \
    && pip wheel --wheel-dir /wheels --constraint requirements.lock --requirement runtime-requirements.txt
COPY contracts/ contracts/
COPY common/ common/
COPY command_service/ command_service/
COPY sync_worker/ sync_worker/
COPY query_service/ query_service/
COPY randomuser_sim/ randomuser_sim/
COPY connector_cli/ connector_cli/
RUN pip wheel --no-deps --wheel-dir /wheels .

# ------------------------------------------------------------- swagger-ui ---
# Swagger UI's static files for /docs/, from the PyPI package `make run` uses
# (swagger-ui-py), so the gateway loads nothing from a CDN.
FROM ${PYTHON_IMAGE} AS swagger-ui
ARG SWAGGER_UI_PY_VERSION=25.7.1
RUN pip install --no-cache-dir --no-deps --target /opt/swagger-ui-py \
        "swagger-ui-py==${SWAGGER_UI_PY_VERSION}"

# ---------------------------------------------------------------- gateway ---
# nginx serving the dashboard and the API docs. Its routes come from conf.d:
# docker compose renders docker/nginx/default.conf.template into it at start
# (so the directory belongs to the nginx user); the Helm chart mounts its
# ConfigMap there. Runs as the unprivileged nginx user on 8080.
FROM ${NGINX_IMAGE} AS gateway
COPY docker/nginx/nginx.conf /etc/nginx/nginx.conf
COPY web/ /usr/share/nginx/html/
# Only what web/docs/index.html loads, and the licence that ships with it.
COPY --from=swagger-ui \
     /opt/swagger-ui-py/swagger_ui/static/swagger-ui-bundle.js \
     /opt/swagger-ui-py/swagger_ui/static/swagger-ui.css \
     /opt/swagger-ui-py/swagger_ui/static/LICENSE \
     /usr/share/nginx/html/docs/swagger-ui/
RUN rm -f /etc/nginx/conf.d/default.conf \
    && chown 101:101 /etc/nginx/conf.d
USER 101:101
EXPOSE 8080

# ---------------------------------------------------------------- runtime ---
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="randomuser-connector" \
      org.opencontainers.image.description="Event-driven CQRS connector for the Randomuser API"
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HTTP_HOST=0.0.0.0 \
    HEALTH_HOST=0.0.0.0 \
    LOG_FORMAT=json
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && install -d -o 10001 -g 10001 -m 0755 /var/lib/randomuser/snapshots
# /var/lib/randomuser/snapshots: the projector's SNAPSHOT_FILES_DIR. A named
# volume mounted there starts owned by the app user (Docker copies the
# directory's owner); the gateway mounts the same volume read-only.
# Install the project wheel (and its dependency wheels) only: no sources, no
# compilers. The bind mount keeps the wheels out of every layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/randomuser_connector-*.whl \
    && python -c "import command_service, sync_worker, query_service, randomuser_sim, connector_cli"
COPY --chmod=0755 docker/healthcheck.py /usr/local/bin/container-healthcheck
# An empty working directory: no .env is read inside the container; all
# settings come from the environment the orchestrator sets.
WORKDIR /app
USER 10001:10001
# Probes HEALTH_PORT (workers) or HTTP_PORT (HTTP services) on 127.0.0.1,
# /readyz by default; see docker/healthcheck.py.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["container-healthcheck"]
CMD ["python", "-m", "query_service"]
