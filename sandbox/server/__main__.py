"""``python -m sandbox.server --data DIR [--faults RATE]``: serve a sandbox until SIGTERM or SIGINT.

The first line on stdout is the ports as one JSON object, e.g. ``{"health": 40123, "education": 40124,
"ngo": 40125}`` (flushed at once, so a parent process can read it and connect).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from sandbox.server.app import AGENCIES, serve
from sandbox.server.faults import DEFAULT_SLOW_MAX
from sandbox.server.ngo import DEFAULT_RATE_LIMIT


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("the fault rate is between 0 and 1")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.server", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="the sandbox folder (holds sandbox.json)")
    parser.add_argument("--faults", type=_rate, default=0.0, help="fault rate 0..1 (default 0: none)")
    parser.add_argument("--seed", type=int, default=None, help="fault seed (default: the sandbox's seed)")
    parser.add_argument("--host", default="127.0.0.1")
    for name in AGENCIES:
        parser.add_argument(f"--{name}-port", type=int, default=0, help=f"{name} port (default: any free)")
    parser.add_argument("--rate-limit", type=float, default=DEFAULT_RATE_LIMIT,
                        help="NGO requests per second per client (0: off)")
    parser.add_argument("--slow-max", type=float, default=DEFAULT_SLOW_MAX,
                        help="longest injected delay in seconds")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log method, path and status per request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM / SIGINT; return the exit code."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ports = {name: getattr(args, f"{name}_port") for name in AGENCIES}
    try:
        running = serve(args.data, args.faults, args.host, ports, args.seed,
                        rate_limit=args.rate_limit, slow_max=args.slow_max)
    except (FileNotFoundError, OSError, ValueError) as exc:
        print(f"sandbox.server: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print(json.dumps(running.ports), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
