import six


def main() -> None:
    print(f"not-poetry six {six.__version__}")


if __name__ == "__main__":
    main()
