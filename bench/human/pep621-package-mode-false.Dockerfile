# The careful human: the article's final Dockerfile ("Buildkit Cache Mounts") adapted to this project:
# its bases (python:3.11 -> python:3.11-slim), its WORKDIR /srv, Poetry pinned to 2.5.1 (the lock's writer),
# its code (app.py, helpers.py, lib/), a literal cache-mount target (Docker 20.10 takes $POETRY_CACHE_DIR
# literally) and the WORKDIR repeated in the runtime stage. `--without dev` works: Poetry 2.2+ reads the
# PEP 735 dev group; `--no-root` is harmless with package-mode = false.
FROM python:3.11 as builder

RUN pip install poetry==2.5.1

ENV POETRY_NO_INTERACTION=1 \
    POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache

WORKDIR /srv

COPY pyproject.toml poetry.lock ./
RUN touch README.md

RUN --mount=type=cache,target=/tmp/poetry_cache poetry install --without dev --no-root

FROM python:3.11-slim as runtime

WORKDIR /srv

ENV VIRTUAL_ENV=/srv/.venv \
    PATH="/srv/.venv/bin:$PATH"

COPY --from=builder ${VIRTUAL_ENV} ${VIRTUAL_ENV}

COPY app.py helpers.py ./
COPY lib ./lib

CMD ["python", "app.py"]
