import argparse
from importlib.metadata import version

import idna


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stamp")
    parser.add_argument("--text", default="ok")
    args = parser.parse_args(argv)
    print(f"stamp {idna.encode(args.text).decode('ascii')} (stamper {version('stamper')}, idna {version('idna')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
