from importlib.metadata import version

import tomli_w  # noqa: F401  (fails loudly when the venv is missing)

from curlapp import __version__


def main() -> None:
    print(f"curlapp {__version__} tomli-w {version('tomli-w')}")


if __name__ == "__main__":
    main()
