from helpers import to_ascii
from lib.format import line


def main() -> None:
    print(line(to_ascii("b\u00fccher.example")))


if __name__ == "__main__":
    main()
