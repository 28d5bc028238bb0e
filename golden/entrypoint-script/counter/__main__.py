from importlib.metadata import version

import six  # noqa: F401  (fails loudly when the venv is missing)

from counter import __version__


def main() -> None:
    print(f"counter {__version__} six {version('six')}")


if __name__ == "__main__":
    main()
