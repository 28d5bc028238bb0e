from importlib.metadata import version

import idna  # noqa: F401  (the optional `server` group: `--with server` must still install it)
import six  # noqa: F401  (fails loudly when the venv is missing)

from counter import __version__


def main() -> None:
    print(f"counter {__version__} six {version('six')} idna {version('idna')}")


if __name__ == "__main__":
    main()
