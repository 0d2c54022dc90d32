# The service as a container: Python 3.11, the package installed with its pinned dependencies,
# migrations run at start, uvicorn serving on 0.0.0.0:8080.
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

USER service
VOLUME ["/data"]
EXPOSE 8080
CMD ["python", "-m", "service", "serve"]
