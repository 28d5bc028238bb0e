from helpers import to_ascii
from lib.format import line


def test_to_ascii():
    assert to_ascii("b\u00fccher.example") == "xn--bcher-kva.example"


def test_line():
    assert line("a.b") == "punycoder: a.b (2 labels)"
