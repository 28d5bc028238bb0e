from importlib.metadata import version

import attrs  # noqa: F401  (fails loudly when the venv is missing)

from lowkey import __version__


def main() -> None:
    print(f"lowkey {__version__} attrs {version('attrs')}")


if __name__ == "__main__":
    main()
