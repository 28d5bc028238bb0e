FROM python:3.11-slim AS builder

RUN pip install poetry==1.8.5

ENV POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache

COPY docker-entrypoint.sh /usr/local/bin/

WORKDIR /app

COPY pyproject.toml poetry.lock ./
RUN --mount=type=cache,target=/tmp/poetry_cache poetry install --no-root
COPY README.md ./
RUN mkdir -p counter && touch counter/__init__.py && poetry install --only-root

FROM python:3.11-slim AS runtime

WORKDIR /app

ENV VIRTUAL_ENV=/app/.venv \
    PATH="/app/.venv/bin:$PATH"

COPY --from=builder /app/.venv /app/.venv
COPY docker-entrypoint.sh /usr/local/bin/
COPY counter ./counter

ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["python", "-m", "counter"]
