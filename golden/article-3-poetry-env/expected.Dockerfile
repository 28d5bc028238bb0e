FROM python:3.11-buster

RUN pip install --no-cache-dir poetry==1.4.2

ENV POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache

WORKDIR /app
COPY pyproject.toml poetry.lock ./
COPY README.md ./
COPY annapurna ./annapurna

RUN poetry install

ENTRYPOINT ["poetry", "run", "python", "-m", "annapurna.main"]
