from stamper.cli import main


def test_main():
    assert main(["--text", "x"]) == 0
