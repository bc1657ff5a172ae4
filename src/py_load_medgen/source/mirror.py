"""Mirror a release from a server into a local cache, verified, then serve it from there.

For each file the loader knows, found in the server's listing: ask for it (conditionally,
when a cached copy exists), write it to ``<name>.part`` beside a note of the version being
written, resume that partial file after a failure, verify the whole file, and only then rename
it into place. Several files transfer at once. The cache's manifest remembers each file's
version and SHA-256, so an unchanged file is never transferred twice.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import hashlib
import json
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from py_load_medgen import events
from py_load_medgen.errors import IntegrityError, SourceError, TransientSourceError, UsageError
from py_load_medgen.failures import disk_full
from py_load_medgen.redact import redact_uri
from py_load_medgen.release.files import FileSpec, spec_for_file
from py_load_medgen.source.base import Source, SourceFile, gzip_mtime
from py_load_medgen.source.integrity import StreamCheck
from py_load_medgen.source.retry import RetryPolicy, retrying
from py_load_medgen.source.transport import Body, Entry, Transport, is_safe_name

log = logging.getLogger(__name__)

CHUNK = 1 << 20
MANIFEST = ".py-load-medgen-manifest.json"
LOCK = ".py-load-medgen.lock"
PART, NOTE = ".part", ".part.json"
_GRACE = 2.0
"""Seconds an interrupted run gives its downloads to stop before it exits without them."""


@dataclass(frozen=True)
class DownloadSettings:
    parallel: int = 4
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    allow_redirects: bool = False
    """Follow HTTP redirects to another scheme or host."""


@dataclass(frozen=True)
class Fetched:
    """How one file came to be in the cache this run."""

    file: SourceFile
    entry: Entry
    """The version the server served (or confirmed)."""
    outcome: str
    """``downloaded``, ``resumed`` or ``unchanged``."""
    transferred: int
    seconds: float


class _StoppedError(Exception):
    """Another file failed or the run was interrupted: stop transferring, keep the partial."""


class Mirror(Source):
    def __init__(
        self, transport: Transport, cache: Path, settings: DownloadSettings | None = None
    ) -> None:
        self.transport = transport
        self.cache = cache
        self.settings = settings or DownloadSettings()
        self._stop = threading.Event()
        self._emit = threading.Lock()
        self._done: dict[str, int] = {}
        self._totals: dict[str, int | None] = {}
        self._open: set[Body] = set()

    def describe(self) -> str:
        return self.transport.describe()

    # -- discovery ---------------------------------------------------------------------------

    def known_entries(self) -> dict[str, Entry]:
        """Spec table -> listing entry, for every known file the server lists.

        Unsafe names are refused and unknown files reported, both as warnings.
        """
        entries = retrying(self.settings.retry, self.transport.listing)
        known: dict[str, Entry] = {}
        unknown = []
        for entry in entries:
            if not is_safe_name(entry.name):
                log.warning(
                    "%s lists %r, which is not a plain file name; refused",
                    self.describe(),
                    entry.name,
                )
                continue
            spec = spec_for_file(entry.name)
            if spec is None:
                unknown.append(entry.name)
                continue
            other = known.setdefault(spec.table, entry)
            if other.name != entry.name:
                # Two spellings of one file (NAMES.RRF.gz and names.rrf.gz): which one is the
                # release is not ours to guess, as in a local directory.
                raise SourceError(
                    f"{self.describe()} lists {other.name} and {entry.name}, both "
                    f"{spec.name}; which one to download is ambiguous",
                    hint="point --source at a listing that serves each file once",
                )
        if unknown:
            log.warning(
                "%s serves files the loader does not know (not downloaded): %s",
                self.describe(),
                ", ".join(sorted(unknown)),
            )
        return known

    def list_files(self) -> list[Entry]:
        """Each known file with its exact size and version, without transferring any."""
        names = [e.name for e in self.known_entries().values()]
        return retrying(self.settings.retry, lambda: self.transport.stat_many(names))

    # -- fetching ----------------------------------------------------------------------------

    def fetch(self, specs: Sequence[FileSpec]) -> list[SourceFile]:
        return [f.file for f in self.mirror(specs)]

    def mirror(self, specs: Sequence[FileSpec]) -> list[Fetched]:
        """Bring the cache up to date with the server for ``specs``, in that order."""
        known = self.known_entries()
        missing = [s.name for s in specs if s.table not in known]
        if missing:
            raise SourceError(
                f"{self.describe()}: the listing has no {', '.join(missing)}",
                hint="check --source, or load a subset with --files",
            )
        self.cache.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with _locked(self.cache):
            manifest = _read_manifest(self.cache)
            done = self._run_all(specs, known, manifest)
        fetched = [done[s.table] for s in specs]
        self._log_summary(fetched, time.monotonic() - started)
        return fetched

    def _run_all(
        self, specs: Sequence[FileSpec], known: dict[str, Entry], manifest: dict[str, Any]
    ) -> dict[str, Fetched]:
        self._stop.clear()
        self._done = {}
        self._totals = {known[s.table].name: known[s.table].size for s in specs}
        jobs: queue.SimpleQueue[FileSpec] = queue.SimpleQueue()
        for spec in _largest_first(specs, known):
            jobs.put(spec)
        results: queue.SimpleQueue[tuple[FileSpec, Fetched | BaseException]] = queue.SimpleQueue()

        def work() -> None:
            while not self._stop.is_set():
                try:
                    spec = jobs.get_nowait()
                except queue.Empty:
                    return
                entry = known[spec.table]
                try:
                    results.put((spec, self._mirror_one(spec, entry, manifest.get(entry.name))))
                except BaseException as exc:  # re-raised by the main thread
                    results.put((spec, exc))

        # Daemon threads, not an executor: a worker stuck connecting to a silent server must
        # not hold the process past an interrupt for the whole --timeout.
        workers = [
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(work,),
                name=f"py-load-medgen-download-{i}",
                daemon=True,
            )
            for i in range(max(1, min(self.settings.parallel, len(specs))))
        ]
        for worker in workers:
            worker.start()
        done: dict[str, Fetched] = {}
        try:
            while len(done) < len(specs):
                try:
                    spec, outcome = results.get(timeout=0.2)
                except queue.Empty:
                    continue
                if isinstance(outcome, BaseException):
                    raise outcome
                done[spec.table] = outcome
                if outcome.outcome != "unchanged":
                    manifest[outcome.file.name] = _manifest_entry(outcome)
                    _write_manifest(self.cache, manifest)
        except BaseException:
            self._stop.set()
            self._abort_transfers()
            deadline = time.monotonic() + _GRACE
            for worker in workers:
                worker.join(max(0.0, deadline - time.monotonic()))
            raise
        return done

    def _abort_transfers(self) -> None:
        """Cut every open connection, so that no worker waits for bytes that may never come."""
        with self._emit:
            bodies = list(self._open)
        for body in bodies:
            body.abort()

    def _sleep(self, seconds: float) -> None:
        """The retry wait, cut short when the run stops."""
        if self._stop.wait(seconds):
            raise _StoppedError

    @contextlib.contextmanager
    def _opened(self, body: Body) -> Iterator[Body]:
        with body, self._tracked(body):
            if self._stop.is_set():
                raise _StoppedError
            yield body

    @contextlib.contextmanager
    def _tracked(self, body: Body) -> Iterator[None]:
        with self._emit:
            self._open.add(body)
        try:
            yield
        finally:
            with self._emit:
                self._open.discard(body)

    def _mirror_one(self, spec: FileSpec, listed: Entry, recorded: Any) -> Fetched:
        name = listed.name
        path = self.cache / name
        cached = _cached_entry(path, recorded)
        started = time.monotonic()
        received = [0]

        def attempt() -> tuple[Entry, str, bool] | None:
            offset, validator = _partial(self.cache, name)
            body = self.transport.open(name, offset=offset, validator=validator, cached=cached)
            with self._opened(body):
                if body.not_modified:
                    return None
                return self._receive(spec, body, listed, received)

        result = retrying(self.settings.retry, attempt, sleep=self._sleep)
        seconds = time.monotonic() - started
        if result is None:
            assert cached is not None and isinstance(recorded, dict)  # noqa: S101
            log.info("%s: unchanged on the server; the cached copy is used", name)
            self._advance(name, cached.size or 0, cached.size)
            sha = str(recorded["sha256"])
            return Fetched(
                self._source_file(spec, path, cached, sha), cached, "unchanged", 0, seconds
            )
        entry, sha, resumed = result
        os.replace(self.cache / (name + PART), path)
        (self.cache / (name + NOTE)).unlink(missing_ok=True)
        if entry.modified is not None:
            stamp = entry.modified.timestamp()
            os.utime(path, (stamp, stamp))
        log.info(
            "%s: %s bytes in %.1fs (%.1f MB/s)%s",
            name,
            f"{received[0]:,}",
            seconds,
            received[0] / max(seconds, 1e-6) / 1e6,
            ", resumed" if resumed else "",
        )
        return Fetched(
            self._source_file(spec, path, entry, sha),
            entry,
            "resumed" if resumed else "downloaded",
            received[0],
            seconds,
        )

    def _receive(
        self, spec: FileSpec, body: Body, listed: Entry, received: list[int]
    ) -> tuple[Entry, str, bool]:
        """Write the body into the partial file; verify it when whole. Returns the served
        entry, the file's SHA-256 and whether an earlier partial was resumed."""
        name = listed.name
        part, note = self.cache / (name + PART), self.cache / (name + NOTE)
        entry = body.entry
        size = entry.size if entry.size is not None else listed.size
        url = self.transport.url_of(name)
        _write_json(note, {"validator": entry.validator, "size": size, "url": url})
        digest = hashlib.sha256()
        check = StreamCheck(spec, name, url)
        try:
            with part.open("r+b" if body.offset else "wb") as out:
                if body.offset:
                    out.truncate(body.offset)
                    while chunk := out.read(CHUNK):
                        digest.update(chunk)
                        check.feed(chunk)
                done = body.offset
                self._advance(name, done, size)
                while chunk := body.read(CHUNK):
                    if self._stop.is_set():
                        raise _StoppedError
                    _write(out, chunk, self.cache, (size or 0) - done)
                    digest.update(chunk)
                    check.feed(chunk)
                    done += len(chunk)
                    received[0] += len(chunk)
                    with self._emit:
                        events.emit("download_chunk", table=spec.table, file=name, bytes=len(chunk))
                    self._advance(name, done, size)
            if self._stop.is_set():
                raise _StoppedError  # the connection was cut: the bytes so far stay for a resume
            if size is not None and done < size:
                raise TransientSourceError(
                    f"{url}: the transfer ended after {done:,} of {size:,} bytes",
                    hint="the connection dropped; a new run resumes where this one stopped",
                )
            check.finish(done, size)
        except IntegrityError:
            part.unlink(missing_ok=True)
            note.unlink(missing_ok=True)
            raise
        return entry, digest.hexdigest(), body.offset > 0

    def _advance(self, name: str, done: int, total: int | None) -> None:
        """Progress events: this file, and all files together."""
        with self._emit:
            self._done[name] = done
            if total is not None:
                self._totals[name] = total
            events.emit("download", file=name, done=done, total=total)
            sizes = list(self._totals.values())
            # Until every file's size is known, the overall bar has no total to finish at.
            overall = None if None in sizes else sum(s or 0 for s in sizes)
            events.emit("download", file="all files", done=sum(self._done.values()), total=overall)

    def _source_file(self, spec: FileSpec, path: Path, entry: Entry, sha: str) -> SourceFile:
        return SourceFile(
            spec=spec,
            path=path,
            name=path.name,
            size=path.stat().st_size,
            sha256=sha,
            modified=entry.modified,
            url=self.transport.url_of(path.name),
            etag=entry.etag,
            gzip_mtime=gzip_mtime(path),
        )

    def _log_summary(self, fetched: Sequence[Fetched], seconds: float) -> None:
        moved = sum(f.transferred for f in fetched)
        unchanged = sum(1 for f in fetched if f.outcome == "unchanged")
        log.info(
            "mirrored %d file(s) from %s in %.1fs: %s bytes transferred (%.1f MB/s), "
            "%d unchanged",
            len(fetched),
            self.describe(),
            seconds,
            f"{moved:,}",
            moved / max(seconds, 1e-6) / 1e6,
            unchanged,
        )


def _write(out: BinaryIO, chunk: bytes, cache: Path, remaining: int) -> None:
    """One chunk into the partial file; a full disk is an error naming the cache and what the
    rest of the file needs (the partial file stays, under its partial name, for a resume)."""
    try:
        out.write(chunk)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise disk_full(cache, max(remaining, len(chunk))) from None
        raise


def _largest_first(specs: Sequence[FileSpec], known: dict[str, Entry]) -> list[FileSpec]:
    """The longest transfers start first, so that they do not finish last and alone.

    Sizes come from the listing where it has them (FTP); HTTP listings do not, and a release's
    typical row counts rank the files the same way.
    """
    if all(known[s.table].size is not None for s in specs):
        return sorted(specs, key=lambda s: -(known[s.table].size or 0))
    return sorted(specs, key=lambda s: -s.scale_rows)


# -- cache bookkeeping -------------------------------------------------------------------------


def _cached_entry(path: Path, recorded: Any) -> Entry | None:
    """The version the manifest recorded for ``path``, if the file is still that size."""
    if not isinstance(recorded, dict) or "sha256" not in recorded or not path.is_file():
        return None
    if recorded.get("size") != path.stat().st_size:
        return None
    modified = recorded.get("modified")
    return Entry(
        path.name,
        recorded.get("size"),
        datetime.fromisoformat(modified) if isinstance(modified, str) else None,
        recorded.get("etag"),
        recorded.get("last_modified"),
        recorded.get("version"),
    )


def _partial(cache: Path, name: str) -> tuple[int, str | None]:
    """Bytes already in ``<name>.part`` and the version they belong to; (0, None) if unusable."""
    part, note = cache / (name + PART), cache / (name + NOTE)
    try:
        data = json.loads(note.read_text())
        size = part.stat().st_size
    except (OSError, ValueError):
        return 0, None
    validator = data.get("validator") if isinstance(data, dict) else None
    return (size, str(validator)) if size and validator else (0, None)


def _manifest_entry(fetched: Fetched) -> dict[str, Any]:
    return {
        "size": fetched.file.size,
        "etag": fetched.entry.etag,
        "last_modified": fetched.entry.last_modified,
        "modified": fetched.entry.modified.isoformat() if fetched.entry.modified else None,
        "version": fetched.entry.version,
        "sha256": fetched.file.sha256,
        "url": fetched.file.url,
    }


def _read_manifest(cache: Path) -> dict[str, Any]:
    try:
        data = json.loads((cache / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_manifest(cache: Path, manifest: dict[str, Any]) -> None:
    _write_json(cache / MANIFEST, manifest)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """One mirror at a time per cache: two would write the same partial files."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks; documented
        yield
        return
    with (cache / LOCK).open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(
                f"another py-load-medgen process is downloading into {cache}",
                hint="wait for it to finish, or give this run its own --download-dir",
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- opening -----------------------------------------------------------------------------------


def default_cache_dir(url: str) -> Path:
    """One cache folder per server directory, under the platform's user cache dir."""
    import platformdirs

    parts = urlsplit(url)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{parts.hostname}{parts.path}").strip("_")
    return Path(platformdirs.user_cache_dir("py-load-medgen")) / safe


def open_mirror(
    url: str, download_dir: Path | None = None, settings: DownloadSettings | None = None
) -> Mirror:
    settings = settings or DownloadSettings()
    scheme = urlsplit(url).scheme.lower()
    transport: Transport
    if scheme in ("http", "https"):
        from py_load_medgen.source.http import HttpTransport

        transport = HttpTransport(
            url, timeout=settings.retry.timeout, allow_redirects=settings.allow_redirects
        )
    elif scheme == "ftp":
        from py_load_medgen.source.ftp import FtpTransport

        transport = FtpTransport(url, timeout=settings.retry.timeout)
    else:
        raise UsageError(
            f"unsupported source {redact_uri(url)}: use https://, http://, ftp://, file:// "
            "or a directory"
        )
    return Mirror(transport, download_dir or default_cache_dir(url), settings)
