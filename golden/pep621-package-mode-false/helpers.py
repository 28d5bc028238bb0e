import idna


def to_ascii(domain: str) -> str:
    return idna.encode(domain).decode("ascii")
