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

EXTRAS_FOR_COMMAND = {
    "demo": "cloud,sim",
    "cloud": "cloud",
    "detect": "cloud",
    "sim": "sim",
    "agent": "sim",
}
"""The optional extras of the ``aftercare`` distribution that each command group needs
beyond the agent's own dependencies (``agent run --simulate`` needs the simulator's)."""

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
    extras = EXTRAS_FOR_COMMAND.get(command, "cloud,sim")
    return (
        f"aftercare {command} needs {exc.name or 'a module'} that this install lacks: "
        f"pip install 'aftercare[{extras}]'"
    )


if __name__ == "__main__":
    sys.exit(main())
