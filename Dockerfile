# The service as a container: Python 3.11, the package installed with its pinned dependencies,
# migrations run at start, uvicorn serving on 0.0.0.0:8080, and the prescriber's SMART app at /dtr/.
#
# service/web/dist/ is built, not committed (.gitignore), so the image builds it itself in a Node
# stage, with the command of the Makefile's `web` target; tests/test_dockerfile.py holds the two
# together. Assumed: the service serves Settings.web_dir, PROJECT_ROOT/service/web/dist, and
# PROJECT_ROOT is /app because `python -m service` run from WORKDIR /app imports /app/service
# (the working directory comes first on sys.path), not the copy pip installs into site-packages;
# policies/ and cql/ are found the same way. Set WEB_DIR if that ever changes.

# The SMART app (tools/web/build.mjs): esbuild bundles service/web/src with fhirclient and copies
# LHC-Forms from node_modules. The dependencies come first so that an edit to the app reuses the
# `npm ci` layer; .npmrc goes with them because npm ci needs its legacy-peer-deps to accept lforms.
FROM node:22-slim AS web
WORKDIR /build
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tools/web ./tools/web
COPY service/web/src ./service/web/src
RUN node tools/web/build.mjs

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=sqlite:////data/service.db

WORKDIR /app
COPY pyproject.toml requirements.lock alembic.ini ./
COPY service ./service
COPY policies ./policies
COPY cql ./cql
RUN pip install --no-cache-dir -c requirements.lock '.[postgres]' \
    && useradd --system --uid 10001 service \
    && mkdir -p /data && chown service /data
# After the install, so that a change to the app alone does not reinstall the Python packages.
COPY --from=web /build/service/web/dist ./service/web/dist

USER service
VOLUME ["/data"]
EXPOSE 8080
# Liveness, not readiness: a replica whose database is down is not helped by a restart. The image
# has no curl; the probe is the service's own command (service/__main__.py).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "service", "probe", "live"]
# SIGTERM (Docker's default stop signal) drains: DRAIN_SECONDS + GRACEFUL_SHUTDOWN_TIMEOUT_S
# must fit in `docker stop --time` (or Compose's stop_grace_period).
CMD ["python", "-m", "service", "serve"]
