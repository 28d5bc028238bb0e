from python:3.11-slim as builder
# install the tools
run pip install --upgrade pip \
    # poetry itself, unpinned
    && pip install --no-cache-dir poetry==2.5.1
env POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache
workdir /app
copy pyproject.toml poetry.lock ./
run --mount=type=cache,target=/tmp/poetry_cache poetry install --only main --no-root \
    # everything, dev included
    --no-interaction
copy README.md ./
run mkdir -p lowkey && touch lowkey/__init__.py && poetry install --only-root

from python:3.11-slim as runtime

workdir /app

env VIRTUAL_ENV=/app/.venv \
    PATH="/app/.venv/bin:$PATH"

copy --from=builder /app/.venv /app/.venv
copy lowkey ./lowkey
cmd ["python", "-m", "lowkey"]
