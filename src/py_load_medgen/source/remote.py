"""A release mirrored from an HTTP(S) directory into a local cache, then read from there.

Files are discovered from the directory's HTML listing, fetched to ``<name>.part`` with
``Accept-Encoding: identity`` (so sizes refer to the file's bytes), checked (size against
Content-Length, gzip magic and a full decompression pass with CRC check) and only then renamed
into place. A file whose size and Last-Modified match what the cache recorded is not fetched
again. Transient failures (timeouts, resets, 5xx, 429) are retried with exponential backoff.
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import logging
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from py_load_medgen import events
from py_load_medgen.errors import InputError, IntegrityError, SourceError, TransientSourceError
from py_load_medgen.parse.reader import read_chunks
from py_load_medgen.redact import redact_uri
from py_load_medgen.release.files import FileSpec, spec_for_file
from py_load_medgen.source.base import Source, SourceFile, gzip_mtime

log = logging.getLogger(__name__)

CHUNK = 1 << 20
MANIFEST = ".py-load-medgen-manifest.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int | None
    modified: datetime | None


def listed_names(page: str) -> list[str]:
    """File names linked from a directory listing; anything that is not a plain file name in
    this directory (paths, parent links, queries, odd characters) is ignored."""
    parser = _Links()
    parser.feed(page)
    names = []
    for href in parser.hrefs:
        name = unquote(href.split("?", 1)[0].split("#", 1)[0])
        if _SAFE_NAME.match(name) and name not in names:
            names.append(name)
    return names


class HttpSource(Source):
    def __init__(self, url: str, cache: Path, *, attempts: int = 5, timeout: float = 60.0) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.cache = cache
        self.attempts = attempts
        self.timeout = timeout

    def describe(self) -> str:
        return redact_uri(self.url)

    def list_files(self) -> list[RemoteFile]:
        """The known files the directory serves, with their exact size and time."""
        files = []
        for name in self._names():
            if spec_for_file(name) is None:
                continue
            head = self._get(urljoin(self.url, name), method="HEAD")
            size = head.headers.get("Content-Length")
            modified = head.headers.get("Last-Modified")
            files.append(
                RemoteFile(
                    name,
                    int(size) if size and size.isdigit() else None,
                    parsedate_to_datetime(modified).astimezone(UTC) if modified else None,
                )
            )
        return files

    def _names(self) -> list[str]:
        return listed_names(self._get(self.url).read().decode("utf-8", errors="replace"))

    def fetch(self, specs: Sequence[FileSpec]) -> list[SourceFile]:
        names = self._names()
        by_table: dict[str, str] = {}
        for name in names:
            spec = spec_for_file(name)
            if spec is not None:
                by_table.setdefault(spec.table, name)
            elif not name.endswith("/") and "." in name:
                log.debug("listing has a file the loader does not know: %s", name)
        missing = [s.name for s in specs if s.table not in by_table]
        if missing:
            raise SourceError(
                f"{self.describe()}: the listing has no {', '.join(missing)}",
                hint="check --source, or load a subset with --files",
            )
        self.cache.mkdir(parents=True, exist_ok=True)
        manifest = self._manifest()
        files = [self._file(spec, by_table[spec.table], manifest) for spec in specs]
        tmp = self.cache / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp, self.cache / MANIFEST)
        return files

    def _manifest(self) -> dict[str, Any]:
        try:
            data = json.loads((self.cache / MANIFEST).read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _file(self, spec: FileSpec, name: str, manifest: dict[str, Any]) -> SourceFile:
        url = urljoin(self.url, name)
        path = self.cache / name
        head = self._get(url, method="HEAD")
        size = int(head.headers.get("Content-Length") or -1)
        modified = head.headers.get("Last-Modified")
        known = manifest.get(name, {})
        if (
            path.exists()
            and known.get("size") == size == path.stat().st_size
            and (known.get("last_modified") == modified)
        ):
            log.info("%s: unchanged since the last download; not fetched again", name)
            sha = str(known["sha256"])
        else:
            sha = self._download(url, path, size, spec.table)
            manifest[name] = {"size": size, "last_modified": modified, "sha256": sha, "url": url}
        when = parsedate_to_datetime(modified).astimezone(UTC) if modified else None
        return SourceFile(
            spec=spec,
            path=path,
            name=name,
            size=path.stat().st_size,
            sha256=sha,
            modified=when,
            url=url,
            etag=head.headers.get("ETag"),
            gzip_mtime=gzip_mtime(path),
        )

    def _download(self, url: str, path: Path, size: int, table: str) -> str:
        part = path.with_name(path.name + ".part")
        started = time.monotonic()
        digest = hashlib.sha256()
        with self._get(url) as response, part.open("wb") as out:
            done = 0
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                done += len(chunk)
                events.emit("download_chunk", table=table, file=path.name, bytes=len(chunk))
                events.emit(
                    "download", file=path.name, done=done, total=size if size >= 0 else None
                )
        got = part.stat().st_size
        if size >= 0 and got != size:
            part.unlink(missing_ok=True)
            raise IntegrityError(
                f"{url}: received {got} bytes, the server announced {size}",
                hint="the transfer was cut short; run again",
            )
        try:
            # The full pass checks the gzip magic, every member's CRC and length.
            for _ in read_chunks(part, name=path.name):
                pass
        except InputError as exc:
            part.unlink(missing_ok=True)
            raise IntegrityError(f"{redact_uri(url)}: {exc.detail}", hint=exc.hint) from None
        os.replace(part, path)
        seconds = max(time.monotonic() - started, 1e-6)
        log.info("%s: %d bytes in %.1fs (%.1f MB/s)", path.name, got, seconds, got / seconds / 1e6)
        return digest.hexdigest()

    def _get(self, url: str, method: str = "GET") -> Any:
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked in open_source
            url,
            method=method,
            headers={"Accept-Encoding": "identity", "User-Agent": "py-load-medgen"},
        )
        delay = 1.0
        for attempt in range(1, self.attempts + 1):
            try:
                return urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310
            except urllib.error.HTTPError as exc:
                if exc.code not in (429, 500, 502, 503, 504) or attempt == self.attempts:
                    raise SourceError(
                        f"{redact_uri(url)}: HTTP {exc.code} {exc.reason}",
                        hint="check --source; NCBI's directory is "
                        "https://ftp.ncbi.nlm.nih.gov/pub/medgen/",
                    ) from None
                retry_after = exc.headers.get("Retry-After", "")
                wait = float(retry_after) if retry_after.isdigit() else delay
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.attempts:
                    raise TransientSourceError(
                        f"{redact_uri(url)}: {getattr(exc, 'reason', exc)}",
                        hint="the server did not answer; try again later",
                    ) from None
                wait = delay
            log.warning("%s: attempt %d failed; retrying in %.1fs", redact_uri(url), attempt, wait)
            time.sleep(wait + random.uniform(0, wait / 4))  # noqa: S311 - jitter, not crypto
            delay = min(delay * 2, 60.0)
        raise AssertionError("unreachable")  # pragma: no cover


def _cache_dir(url: str, download_dir: Path | None) -> Path:
    if download_dir is not None:
        return download_dir
    import platformdirs

    parts = urlsplit(url)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{parts.hostname}{parts.path}").strip("_")
    return Path(platformdirs.user_cache_dir("py-load-medgen")) / safe


def open_remote(url: str, download_dir: Path | None = None) -> HttpSource:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise SourceError(
            f"unsupported source scheme {scheme!r}: use https://, http:// or a directory",
            hint="FTP sources are not supported yet; NCBI serves the same files over HTTPS",
        )
    return HttpSource(url, _cache_dir(url, download_dir))
