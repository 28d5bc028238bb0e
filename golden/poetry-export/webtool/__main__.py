from importlib.metadata import version

import idna  # noqa: F401  (fails loudly when the venv is missing)

from webtool import __version__


def main() -> None:
    print(f"webtool {__version__} idna {version('idna')}")


if __name__ == "__main__":
    main()
