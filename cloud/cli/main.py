"""The ``aftercare`` command line: one parser, one module per command group.

Each group imports what it needs only when it runs, so ``aftercare agent run`` works on a
device with just the agent installed, and a missing extra is one line saying what to
install instead of a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from cloud.cli import agent, cloud, demo, detect, sim

EXTRA_FOR_MODULE = {
    "fastapi": "cloud",
    "uvicorn": "cloud",
    "sqlalchemy": "cloud",
    "alembic": "cloud",
    "psycopg": "cloud",
    "numpy": "cloud",
    "sklearn": "cloud",
    "skops": "cloud",
    "iotcore": "cloud",
    "yaml": "sim",
}
"""Which optional extra of the ``aftercare`` distribution brings each third-party module."""

COMMAND_GROUPS = (demo, cloud, agent, detect, sim)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aftercare",
        description="Keeps connected products healthy after the sale.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:
        return _fail(_missing_extra(args.command, exc))
    except (ValueError, RuntimeError, OSError, LookupError) as exc:
        return _fail(str(exc))


def _fail(message: str) -> int:
    print(f"aftercare: error: {message}", file=sys.stderr)
    return 2


def _missing_extra(command: str, exc: ModuleNotFoundError) -> str:
    module = (exc.name or "").partition(".")[0]
    extra = EXTRA_FOR_MODULE.get(module)
    if extra is None:
        return f"aftercare {command} cannot import {exc.name!r}: {exc}"
    return (
        f"aftercare {command} needs the {extra!r} extra ({module} is missing): "
        f"pip install 'aftercare[{extra}]'"
    )


if __name__ == "__main__":
    sys.exit(main())
