FROM python:3.11-buster AS builder

RUN pip install --no-cache-dir poetry==2.5.1

ENV POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache

WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN --mount=type=cache,target=/tmp/poetry_cache poetry install --only main --no-root
COPY README.md ./
RUN mkdir -p heavy_pandas && touch heavy_pandas/__init__.py && poetry install --only-root

FROM python:3.11-slim-buster AS runtime

WORKDIR /app

ENV VIRTUAL_ENV=/app/.venv \
    PATH="/app/.venv/bin:$PATH"

COPY --from=builder /app/.venv /app/.venv
COPY heavy_pandas ./heavy_pandas

ENTRYPOINT ["python", "-m", "heavy_pandas.main"]
