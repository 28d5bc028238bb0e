from greeter.cli import greeting, main


def test_greeting_mentions_name():
    assert greeting("docker").startswith("hello docker ")


def test_main_exits_zero(capsys):
    assert main(["--name", "tests"]) == 0
    assert "hello tests" in capsys.readouterr().out
