FROM python:3.11-buster

RUN pip install --no-cache-dir poetry==1.4.2

ENV POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache

WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry install --only main --no-root
COPY README.md ./
RUN mkdir -p annapurna && touch annapurna/__init__.py && poetry install --only-root
COPY annapurna ./annapurna

ENTRYPOINT ["poetry", "run", "python", "-m", "annapurna.main"]
