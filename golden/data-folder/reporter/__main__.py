from importlib.metadata import version
from pathlib import Path
from string import Template

import idna

from reporter import __version__

# templates/ sits next to the package directory and is read at run time.
TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "report.txt"


def main() -> None:
    template = Template(TEMPLATE.read_text(encoding="utf-8"))
    domain = "b\u00fccher.example"
    print(
        template.substitute(
            name="reporter",
            version=__version__,
            idna=version("idna"),
            encoded=idna.encode(domain).decode("ascii"),
        ).rstrip("\n")
    )


if __name__ == "__main__":
    main()
