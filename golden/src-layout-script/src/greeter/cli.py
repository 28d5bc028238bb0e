import argparse
from importlib.metadata import version

import idna


def greeting(name: str) -> str:
    encoded = idna.encode(name).decode("ascii")
    return f"hello {encoded} (idna {version('idna')})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="greet")
    parser.add_argument("--name", default="world")
    args = parser.parse_args(argv)
    print(greeting(args.name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
