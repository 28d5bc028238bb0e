"""poetry-docker-fix: rewrite the Dockerfile of a Poetry project the way the Poetry-in-Docker guides say."""

__version__ = "0.1.0"
