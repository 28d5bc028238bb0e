FROM python:3.11 AS builder

RUN pip install --no-cache-dir poetry==2.5.1

ENV POETRY_VIRTUALENVS_IN_PROJECT=1

WORKDIR /app

COPY pyproject.toml poetry.lock ./

RUN --mount=type=cache,target=/root/.cache/pypoetry poetry install --only main --no-root

COPY stager ./stager

FROM python:3.11-slim

WORKDIR /app

COPY --from=builder /app/.venv /app/.venv

COPY stager ./stager

ENV PATH="/app/.venv/bin:$PATH"

CMD ["python", "-m", "stager"]
