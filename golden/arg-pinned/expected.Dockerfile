FROM python:3.11-slim AS builder

ARG POETRY_VERSION=1.8.5
RUN pip install "poetry==${POETRY_VERSION}"

ENV POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache

WORKDIR /app

COPY pyproject.toml poetry.lock ./
RUN --mount=type=cache,target=/tmp/poetry_cache poetry install --only main --no-root
COPY README.md ./
RUN mkdir -p argapp && touch argapp/__init__.py && poetry install --only-root

FROM python:3.11-slim AS runtime

WORKDIR /app

ENV VIRTUAL_ENV=/app/.venv \
    PATH="/app/.venv/bin:$PATH"

COPY --from=builder /app/.venv /app/.venv
COPY argapp ./argapp

CMD ["python", "-m", "argapp"]
