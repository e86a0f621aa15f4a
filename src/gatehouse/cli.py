"""gatehouse command line: a thin layer that makes run directories out of dbt builds."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from pathlib import Path

from gatehouse import progress
from gatehouse.project import PROJECT_ENV, project_dir
from gatehouse.runs import RunError

# Each domain module has register(subparsers), which sets `handler` on its parsers.
DOMAINS = ("gatehouse.criticality.commands", "gatehouse.sites.commands.cli", "gatehouse.runs.commands")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatehouse", description=__doc__)
    subparsers = parser.add_subparsers(dest="domain", required=True)
    for name in DOMAINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.register(subparsers)
    _add_common_options(parser)
    _document(parser)
    return parser


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    """--project-dir and --quiet on every command (after its name, like its other options)."""
    subcommands = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subcommands:
        parser.add_argument("--project-dir", help="the gatehouse dbt project (default: the current directory "
                                                  "or the nearest parent holding one, else the installed checkout)")
        parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    for action in subcommands:
        for subparser in action.choices.values():
            _add_common_options(subparser)


EXIT_CODES = ("exit codes: 0 ok; 1 target grade not reached (sites score/certify); 2 bad input or a failed gate; "
              "3 missing dependency; 4 run directory exists; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM)")


def _document(parser: argparse.ArgumentParser) -> None:
    """Every (sub)command's --help shows the exit codes and each option's default (unless its help names it)."""
    parser.epilog = EXIT_CODES
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _document(subparser)
        elif action.option_strings and action.default not in (None, False, argparse.SUPPRESS) \
                and "default" not in (action.help or ""):
            action.help = f"{action.help or ''} (default: %(default)s)".strip()


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the dbt child is killed and the run being built is removed."""


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _stop(signum, frame):
    """The first SIGTERM or Ctrl-C stops the command; later ones are ignored, so they cannot cut short the
    cleanup it starts (dbt processes killed, the run being built removed: under a second)."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def main(argv: list[str] | None = None) -> int:
    in_main_thread = threading.current_thread() is threading.main_thread()  # signal() works only there
    previous = {number: signal.signal(number, _stop) for number in STOP_SIGNALS  # an ignored Ctrl-C (a job
                if in_main_thread and signal.getsignal(number) is not signal.SIG_IGN}  # started with &) stays so
    previous_project = os.environ.get(PROJECT_ENV)
    try:
        args = build_parser().parse_args(argv)
        progress.configure(not args.quiet)
        if args.project_dir:
            os.environ[PROJECT_ENV] = str(Path(args.project_dir).resolve())
        project_dir()  # a missing project is a named error before anything starts
        result = args.handler(args)
    except Terminated:
        print("gatehouse: terminated (SIGTERM); no unfinished run is left behind", file=sys.stderr)
        return 143
    except KeyboardInterrupt:  # Ctrl-C: new_run has already removed the run being built
        print("gatehouse: interrupted (Ctrl-C); no unfinished run is left behind", file=sys.stderr)
        return 130
    except RunError as error:
        print(f"gatehouse: {error}", file=sys.stderr)
        return error.exit_code
    except ValueError as error:  # InputError, PolicyError, GeodataError...: bad input, already named
        print(f"gatehouse: {error}", file=sys.stderr)
        return 2
    finally:
        _restore_project_env(previous_project)
        for number, handler in previous.items():
            signal.signal(number, handler)
    if result is not None:
        print(result)
    return 0


def _restore_project_env(value: str | None) -> None:
    """--project-dir holds for one command (main() is also called in-process, by tests)."""
    if value is None:
        os.environ.pop(PROJECT_ENV, None)
    else:
        os.environ[PROJECT_ENV] = value


if __name__ == "__main__":
    sys.exit(main())
