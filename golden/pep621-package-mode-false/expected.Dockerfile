FROM python:3.11 AS builder

RUN pip install --no-cache-dir poetry==2.5.1

ENV POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache

WORKDIR /srv

COPY pyproject.toml poetry.lock ./
RUN --mount=type=cache,target=/tmp/poetry_cache poetry install --only main

FROM python:3.11-slim AS runtime

WORKDIR /srv

ENV VIRTUAL_ENV=/srv/.venv \
    PATH="/srv/.venv/bin:$PATH"

COPY --from=builder /srv/.venv /srv/.venv
COPY app.py helpers.py ./
COPY lib ./lib

CMD ["python", "app.py"]
