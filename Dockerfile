# One image for the API and the Temporal worker.
# The API is the default command; the worker service in docker-compose.yml runs `python worker.py`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# An unprivileged user that owns nothing it runs: the code stays read-only to it.
RUN groupadd --system --gid 10001 cases \
 && useradd --system --uid 10001 --gid cases --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin cases

# Only the project itself: no .venv, .git, .data or tests (there is no .dockerignore).
COPY pyproject.toml ./
COPY models ./models
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY core ./core
COPY migrations ./migrations
COPY worker.py ./

# The runtime dependencies only, no dev extras.
RUN pip install . \
 && rm -rf build ./*.egg-info

# Where the API appends the audit chain's checkpoints (a volume in docker-compose.yml).
RUN mkdir -p /var/lib/cases-audit && chown cases:cases /var/lib/cases-audit

USER cases:cases

EXPOSE 8000

CMD ["python", "-m", "api.serve", "--host", "0.0.0.0", "--port", "8000"]
