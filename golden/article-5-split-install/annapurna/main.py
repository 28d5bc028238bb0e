from importlib.metadata import version

import fastapi  # noqa: F401  (fails loudly when the venv is missing)

from annapurna import __version__


def main() -> None:
    print(f"annapurna {__version__} fastapi {version('fastapi')}")


if __name__ == "__main__":
    main()
