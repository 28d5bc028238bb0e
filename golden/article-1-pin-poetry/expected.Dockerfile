FROM python:3.11-buster

RUN pip install --no-cache-dir poetry==1.4.2

COPY . .

RUN poetry install

ENTRYPOINT ["poetry", "run", "python", "-m", "annapurna.main"]
