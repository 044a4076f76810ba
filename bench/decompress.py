"""``python -m bench.decompress``: peak memory of a gzip bomb over HTTP, the hub's client vs plain requests.

A loopback server answers one request with ``Content-Encoding: gzip``: ``--mib`` MiB of zeros compressed to
about a thousandth of that (600 MiB → ~600 KB by default). Each client runs in a child process of its own
and reports its peak RSS (``ru_maxrss``) and what happened:

* ``hub``: ``connectors.http.HttpClient().get`` — inflates in steps with the size and ratio caps;
* ``requests`` (the peer): ``requests.get(url).content`` — inflates everything the server sent;
* ``baseline``: the same imports and server, no request.

One JSON document goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MIB = 1 << 20


def bomb(mib: int) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block, out = bytes(MIB), bytearray()
    for _ in range(mib):
        out += z.compress(block)
    return bytes(out + z.flush())


def _serve(body: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def child(client: str, mib: int) -> dict[str, Any]:
    """Run one client in this process; what it did and the peak RSS."""
    import requests

    from connectors.errors import HostileBodyError
    from connectors.http import HttpClient

    body = bomb(mib)
    server = _serve(body)
    url = f"http://127.0.0.1:{server.server_address[1]}/bomb"
    started, outcome = time.perf_counter(), "no request"
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        if client == "hub":
            outcome = f"read {len(HttpClient(url).get(url).body)} bytes"
        elif client == "requests":
            outcome = f"read {len(requests.get(url, timeout=60).content)} bytes"
    except HostileBodyError as exc:
        outcome = f"refused: {exc}"
    except MemoryError:
        outcome = "MemoryError"
    server.shutdown()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"client": client, "compressed_bytes": len(body), "inflated_mib": mib, "outcome": outcome,
            "seconds": round(time.perf_counter() - started, 3), "peak_rss_mb": round(peak / 1024, 1),
            "rss_before_request_mb": round(rss_before / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=600, help="MiB the body inflates to")
    parser.add_argument("--child", choices=["hub", "requests", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.mib)))
        return
    runs = []
    for client in ("baseline", "hub", "requests"):
        done = subprocess.run([sys.executable, "-m", "bench.decompress", "--child", client, "--mib",
                               str(args.mib)], capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout))
        print(f"{client}: {runs[-1]['peak_rss_mb']} MB", file=sys.stderr)
    print(json.dumps({"benchmark": "decompress", "python": platform.python_version(),
                      "machine": platform.machine(), "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
