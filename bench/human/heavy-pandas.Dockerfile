# The careful human: the article's final Dockerfile ("Buildkit Cache Mounts") adapted to this project:
# Poetry pinned to 2.5.1 (the lock's writer), its package name, a literal cache-mount target (Docker 20.10
# takes $POETRY_CACHE_DIR literally) and a WORKDIR in the runtime stage (hadolint DL3045).
# `--without dev` works: the project has a dev group.
FROM python:3.11-buster as builder

RUN pip install poetry==2.5.1

ENV POETRY_NO_INTERACTION=1 \
    POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache

WORKDIR /app

COPY pyproject.toml poetry.lock ./
RUN touch README.md

RUN --mount=type=cache,target=/tmp/poetry_cache poetry install --without dev --no-root

FROM python:3.11-slim-buster as runtime

WORKDIR /app

ENV VIRTUAL_ENV=/app/.venv \
    PATH="/app/.venv/bin:$PATH"

COPY --from=builder ${VIRTUAL_ENV} ${VIRTUAL_ENV}

COPY heavy_pandas ./heavy_pandas

ENTRYPOINT ["python", "-m", "heavy_pandas.main"]
