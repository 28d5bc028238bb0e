# The careful human: the article's final Dockerfile ("Buildkit Cache Mounts") adapted to this project.
# The app is a console script (`greet`), which only exists once the project itself is installed, so the
# article's second install ("Installing dependencies before copying code": copy the code, then
# `poetry install --without dev`) is kept in the builder, and the runtime copies the code to the same path
# (the root is installed editable). Poetry pinned to 2.1.4 (the lock's writer); the project's slim base for
# both stages; a literal cache-mount target (Docker 20.10 takes $POETRY_CACHE_DIR literally); WORKDIR in the
# runtime stage; `poetry run greet` becomes `greet`. `--without dev` works: the project has a dev group.
FROM python:3.11-slim as builder

RUN pip install poetry==2.1.4

ENV POETRY_NO_INTERACTION=1 \
    POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache

WORKDIR /app

COPY pyproject.toml poetry.lock ./
RUN touch README.md

RUN --mount=type=cache,target=/tmp/poetry_cache poetry install --without dev --no-root

COPY src ./src

RUN poetry install --without dev

FROM python:3.11-slim as runtime

WORKDIR /app

ENV VIRTUAL_ENV=/app/.venv \
    PATH="/app/.venv/bin:$PATH"

COPY --from=builder ${VIRTUAL_ENV} ${VIRTUAL_ENV}

COPY src ./src

CMD ["greet", "--name", "docker"]
