FROM python:3.11-slim AS builder

RUN pip install --no-cache-dir poetry==2.1.4

ENV POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache

WORKDIR /app

COPY pyproject.toml poetry.lock LICENSE ./
RUN --mount=type=cache,target=/tmp/poetry_cache poetry install --only main --no-root
COPY docs/README.md ./docs/
RUN mkdir -p src/stamper && touch src/stamper/__init__.py && poetry install --only-root

FROM python:3.11-slim AS runtime

WORKDIR /app

ENV VIRTUAL_ENV=/app/.venv \
    PATH="/app/.venv/bin:$PATH"

COPY --from=builder /app/.venv /app/.venv
COPY src ./src

CMD ["stamp", "--text", "docker"]
