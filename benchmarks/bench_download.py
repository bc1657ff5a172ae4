"""Mirroring a release over HTTP against `curl` fetching the same files, in the same run.

Generates (and caches) a release at --scale and serves it on loopback twice: with Python's own
`http.server` as fast as loopback goes, then with the same handler paced at --rate MB/s per
connection, like a distant server. Against each it alternates, --runs times each:
  1. the baseline: one `curl --parallel --parallel-max N` process fetching every file;
  2. the same, then `gzip -t` and `sha256sum` over the files: the checks we make, as a
     careful shell script would make them (a reference, not the target's baseline);
  3. `py-load-medgen download --parallel N` into an empty cache (listing, transfer, SHA-256,
     full gzip verification, header check and rename included), as a separate process.
Then once more with the cache warm (every file answered 304 Not Modified).
Prints the best time of each and the ratio the project targets: ours / curl <= 1.2. On
unthrottled loopback curl only writes bytes, while every file we take is also hashed and fully
inflated (the gzip CRC check): there the ratio measures that verification and the process
start-up, which the script prints too.

Usage: python -m benchmarks.bench_download [--scale 0.3] [--parallel 4] [--runs 3] [--rate 25]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import release, run_measured, tool, tool_env

INSTALLED = tool_env()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


THROTTLED_SERVER = """
import functools, http.server, sys, time
rate = float(sys.argv[3])

class Throttled(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def copyfile(self, source, outputfile):
        # Each connection gets `rate` bytes per second, like one stream from a distant server.
        started, sent = time.monotonic(), 0
        while chunk := source.read(256 * 1024):
            outputfile.write(chunk)
            sent += len(chunk)
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)

handler = functools.partial(Throttled, directory=sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


@contextmanager
def http_server(directory: Path, rate: float | None = None) -> Iterator[str]:
    """Serve the release's files at ``/pub/medgen/`` on loopback: ``python -m http.server``,
    or with ``rate`` (bytes/s) the same handler sending each response no faster than that."""
    root = Path(tempfile.mkdtemp(prefix="medgen-www-"))
    (root / "pub" / "medgen").mkdir(parents=True)
    for path in directory.iterdir():
        if not path.name.startswith("."):
            (root / "pub" / "medgen" / path.name).symlink_to(path.resolve())
    port = free_port()
    if rate is None:
        command = [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(root),
        ]
    else:
        command = [sys.executable, "-c", THROTTLED_SERVER, str(port), str(root), str(rate)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/pub/medgen/"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(root)


def compare(
    directory: Path, files: list[Path], args: argparse.Namespace, rate: float | None
) -> dict[str, float]:
    """Best times against one server: curl, curl then the checks we make, ours, ours warm."""
    work = Path(tempfile.mkdtemp(prefix="medgen-bench-dl-"))
    times: dict[str, list[float]] = {"curl": [], "checked": [], "ours": []}
    # Largest first, as we schedule them: the fairest order for curl too.
    files = sorted(files, key=lambda p: -p.stat().st_size)
    try:
        with http_server(directory, rate) as url:
            for run in range(args.runs):
                target = work / f"curl-{run}"
                target.mkdir()
                command = ["curl", "--silent", "--fail", "--parallel", "--parallel-immediate"]
                command += ["--parallel-max", str(args.parallel)]
                for path in files:
                    command += ["-o", str(target / path.name), url + path.name]
                fetched = run_measured(command).seconds
                times["curl"].append(fetched)
                gz = [str(target / p.name) for p in files if p.name.endswith(".gz")]
                check = run_measured(["gzip", "-t", *gz]).seconds
                check += run_measured(["sha256sum", *(str(target / p.name) for p in files)]).seconds
                times["checked"].append(fetched + check)
                cache = work / f"ours-{run}"
                ours = [tool(), "download", "--source", url, "--download-dir", str(cache)]
                ours += ["--parallel", str(args.parallel), "--quiet", "--log-level", "WARNING"]
                times["ours"].append(run_measured(ours, env=INSTALLED).seconds)
                for path in files:
                    if (cache / path.name).read_bytes() != path.read_bytes():
                        raise SystemExit(f"{path.name}: the mirrored copy differs")
            warm = run_measured(ours, env=INSTALLED).seconds
    finally:
        shutil.rmtree(work)
    return {**{k: min(v) for k, v in times.items()}, "warm": warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--rate",
        type=float,
        default=25.0,
        help="MB/s per connection for the second comparison, a distant server's pace",
    )
    args = parser.parse_args()

    directory = release(args.scale)
    files = sorted(p for p in directory.iterdir() if not p.name.startswith("."))
    total = sum(p.stat().st_size for p in files)
    print(f"release at scale {args.scale:g}: {len(files)} files, {total / 1e6:,.1f} MB")
    startup = min(run_measured([tool(), "--version"], env=INSTALLED).seconds for _ in range(3))
    print(f"py-load-medgen process start-up (--version): {startup:.2f}s")
    for pace in (None, args.rate * 1e6):
        best = compare(directory, files, args, pace)
        curl, mine = best["curl"], best["ours"]
        where = "unthrottled loopback" if pace is None else f"{args.rate:g} MB/s per connection"
        verdict = "met" if mine / curl <= 1.2 else "NOT met"
        print(f"\n{where}, {args.parallel} connections, best of {args.runs}")
        print(f"  {'':44}{'seconds':>9}{'MB/s':>9}")
        rows = [
            ("curl --parallel (baseline)", curl),
            ("curl, then gzip -t and sha256sum (reference)", best["checked"]),
            ("py-load-medgen download", mine),
        ]
        for label, seconds in rows:
            print(f"  {label:44}{seconds:>9.2f}{total / seconds / 1e6:>9.1f}")
        print(f"  {'py-load-medgen, cache warm (304)':44}{best['warm']:>9.2f}")
        print(
            f"  ratio ours / curl: {mine / curl:.2f} (target <= 1.2: {verdict}); "
            f"ours / (curl + the same checks): {mine / best['checked']:.2f}"
        )


if __name__ == "__main__":
    main()
