def line(encoded: str) -> str:
    labels = encoded.count(".") + 1
    return f"punycoder: {encoded} ({labels} labels)"
