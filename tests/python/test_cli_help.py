"""Every (sub)command's --help names the exit codes and every option's default."""

import argparse

import pytest

from gatehouse import cli


def leaf_parsers(parser: argparse.ArgumentParser, path=()):
    subcommands = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subcommands:
        yield path, parser
    for action in subcommands:
        for name, subparser in action.choices.items():
            yield from leaf_parsers(subparser, (*path, name))


LEAVES = list(leaf_parsers(cli.build_parser()))


def test_every_command_is_covered():
    assert {("sites", "certify"), ("phase2", "gain-grid"), ("runs", "prune")} <= {path for path, _ in LEAVES}


@pytest.mark.parametrize("path, parser", LEAVES, ids=[" ".join(path) for path, _ in LEAVES])
def test_help_shows_exit_codes_and_defaults(path, parser):
    text = " ".join(parser.format_help().split())  # help text is wrapped
    assert "exit codes: 0 ok" in text and "130 interrupted" in text
    for action in parser._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            assert "default" in (action.help or ""), f"{' '.join(path)} {action.option_strings[0]}"
