# syntax=docker/dockerfile:1
# hunter service image: `pip install .` of this repository into a virtualenv, run as a non-root
# user from /app (queries/, templates/, settings.toml, writable var/). Command: `hunter run`.
# It runs on its own too (`docker run hunter:local`): its defaults name only what it holds, the
# embedded mode over /app/events (empty: mount exported event files there) with state in /app/var;
# HUNTER_MODE=elasticsearch and HUNTER_ELASTICSEARCH__* point it at a cluster instead.

ARG PYTHON_VERSION=3.13

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/hunter
WORKDIR /src
# .dockerignore is an allowlist: .env, var/, .git and tests never reach the build context.
COPY . .
RUN /opt/hunter/bin/pip install .

FROM python:${PYTHON_VERSION}-slim
ARG HUNTER_UID=10001
ARG HUNTER_GID=10001
# settings.toml's embedded default, samples/events, is not in the image: events/ is.
ENV PATH=/opt/hunter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HUNTER_SERVICE__HOST=0.0.0.0 \
    HUNTER_SERVICE__PORT=9750 \
    HUNTER_EMBEDDED__EVENTS='["events"]'
RUN groupadd --system --gid "${HUNTER_GID}" hunter \
    && useradd --system --uid "${HUNTER_UID}" --gid hunter --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin hunter
COPY --from=build /opt/hunter /opt/hunter
WORKDIR /app
COPY queries/ queries/
COPY templates/ templates/
COPY settings.toml ./
RUN mkdir -p var events && chown "${HUNTER_UID}:${HUNTER_GID}" var
USER ${HUNTER_UID}:${HUNTER_GID}
EXPOSE 9750
# No curl in the image: probe /healthz with the standard library (200 healthy, 503 or no answer
# unhealthy; urlopen raises on both, so the exit status is non-zero). Proxies are bypassed.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.build_opener(r.ProxyHandler({})).open('http://127.0.0.1:' + os.environ.get('HUNTER_SERVICE__PORT', '9750') + '/healthz', timeout=4)"]
CMD ["hunter", "run"]
