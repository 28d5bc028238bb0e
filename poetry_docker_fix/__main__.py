"""The `poetry-docker-fix` command and `python -m poetry_docker_fix`."""

import sys


def main() -> None:
    # Before typer and the tool are imported: a reader process imports libcst meanwhile (see import_reader).
    from .refactor import import_reader

    if import_reader.useful(sys.argv[1:]):
        import_reader.start()
    from .cli import main as run

    run()


if __name__ == "__main__":
    main()
