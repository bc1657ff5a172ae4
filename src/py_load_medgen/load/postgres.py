"""PostgreSQL: COPY FROM STDIN into unlogged staging tables, one-transaction swap.

The driver (psycopg 3) is imported here only, so parsing and orchestration never need it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from py_load_medgen.errors import DatabaseError, InputError, LockedError, UsageError
from py_load_medgen.failures import connection_lost, lost_connection
from py_load_medgen.load import publish, sql
from py_load_medgen.load.base import Loader, LockWaitError, RunRecord
from py_load_medgen.load.capture import ChangePlan
from py_load_medgen.parse.stream import EncodedFile, not_an_integer
from py_load_medgen.prefetch import prefetch
from py_load_medgen.redact import normalized_uri, redact_text, redact_uri
from py_load_medgen.release.files import FileSpec
from py_load_medgen.release.schema import Index, index_names, indexes

log = logging.getLogger(__name__)

_COPY_CONTEXT = re.compile(r'line (\d+)(?:, column ([^:]+)(?:: "(.*)")?)?', re.DOTALL)
_MAINTENANCE_WORK_MEM = "512MB"
_WORK_MEM = "256MB"  # delta comparisons hash whole tables; the default 4MB spills to disk
_RECONNECT_SECONDS = 5  # to record a failure after the connection was lost
MAX_IDENTIFIER_BYTES = 63
"""PostgreSQL cuts longer names silently (NAMEDATALEN - 1): two names would be one schema."""
PUBLISH_LOCK_WAIT = 0.2
"""Seconds one attempt at the publishing locks may wait, in all. Well under the server's
deadlock_timeout (1 s by default), so a reader caught in a cycle with the swap is never the
one the server kills: the swap gives up its locks first and tries again later."""

_DEPENDENT_VIEWS = """
WITH RECURSIVE deps(oid, depth) AS (
    SELECT DISTINCT r.ev_class, 1
    FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
      AND d.refobjid = ANY(%s::oid[]) AND r.ev_class <> d.refobjid
    UNION
    SELECT r.ev_class, deps.depth + 1
    FROM deps JOIN pg_depend d ON d.refobjid = deps.oid AND d.refclassid = 'pg_class'::regclass
    JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
    WHERE r.ev_class <> deps.oid AND deps.depth < 50
)
SELECT c.oid, n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid),
       pg_get_userbyid(c.relowner), obj_description(c.oid, 'pg_class'),
       array_to_string(c.reloptions, ', '), max(deps.depth) AS depth
FROM deps JOIN pg_class c ON c.oid = deps.oid JOIN pg_namespace n ON n.oid = c.relnamespace
GROUP BY c.oid, n.nspname, c.relname, c.relkind, c.relowner, c.reloptions
ORDER BY depth
"""

_GRANTS = """
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
       a.privilege_type, a.is_grantable
FROM pg_class c, aclexplode(c.relacl) a
WHERE c.oid = %s::regclass AND a.grantee <> c.relowner
"""


@contextmanager
def _database_errors() -> Iterator[None]:
    """The server's refusals become DatabaseError (exit code 4) with a secret-free message.

    Integrity errors pass through: callers use them to learn that a key is not unique.
    """
    try:
        yield
    except pgerrors.IntegrityError:
        raise
    except (pgerrors.LockNotAvailable, pgerrors.DeadlockDetected) as exc:
        # Only publishing sets a lock_timeout; it retries the whole transaction on this.
        raise LockWaitError(redact_text(exc.diag.message_primary or str(exc)).strip()) from None
    except psycopg.Error as exc:
        if lost_connection(exc):
            raise connection_lost(redact_text(str(exc))) from None
        message = redact_text(exc.diag.message_primary or str(exc)).strip()
        hint = None
        if isinstance(exc, pgerrors.InsufficientPrivilege):
            hint = "the role needs CONNECT and TEMPORARY on the database and to own the schema"
        raise DatabaseError(f"database error: {message}", hint=hint) from None


def lock_key(schema_oid: int) -> int:
    """A stable 64-bit advisory lock key for one schema, from what the server resolved.

    The schema's OID, not the name as typed: every spelling that reaches the same schema
    meets the same lock (advisory locks are per database already).
    """
    digest = hashlib.blake2b(f"py-load-medgen:schema:{schema_oid}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def check_identifier(kind: str, name: str) -> None:
    """Refuse a name PostgreSQL would cut short (and so merge with another)."""
    size = len(name.encode())
    if size > MAX_IDENTIFIER_BYTES:
        raise UsageError(
            f"{kind} name {name!r} is {size} bytes long; PostgreSQL keeps only the first "
            f"{MAX_IDENTIFIER_BYTES}, which would make it another name's schema",
            hint=f"choose a {kind} name of at most {MAX_IDENTIFIER_BYTES} bytes",
        )


class PostgresLoader(Loader):
    dialect = sql.POSTGRES

    def __init__(self, uri: str, schema: str) -> None:
        check_identifier("schema", schema)
        super().__init__(uri, schema)
        self._conn: psycopg.Connection[Any] | None = None
        self._locked = False
        self._lock_key: int | None = None
        self._contended: str | None = None
        """The table an attempt to publish last found busy: the next attempt locks it first."""

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise DatabaseError("not connected: call connect() first")
        return self._conn

    def describe(self) -> str:
        return redact_uri(self.uri)

    def connect(self) -> None:
        try:
            self._conn = psycopg.connect(
                normalized_uri(self.uri), autocommit=True, application_name="py-load-medgen"
            )
        except psycopg.Error as exc:
            raise DatabaseError(
                f"cannot connect to {self.describe()}: {redact_text(str(exc)).strip()}",
                hint="check --db-uri (or MEDGEN_DB_URI) and that the server is running",
            ) from None
        self.execute(f"SET maintenance_work_mem = {sql.literal(_MAINTENANCE_WORK_MEM)}")
        self.execute(f"SET work_mem = {sql.literal(_WORK_MEM)}")

    # -- a lost connection: record the failure over a new one, briefly ------------------------

    def _revived(self) -> bool:
        """Whether the connection is usable, reconnecting once if it was lost (the session was
        terminated, the server restarted). The lock died with the old session: whether this
        run may clean up is decided again by taking it."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return True
        self._locked = False
        try:
            self._conn = psycopg.connect(
                normalized_uri(self.uri),
                autocommit=True,
                application_name="py-load-medgen",
                connect_timeout=_RECONNECT_SECONDS,
            )
        except psycopg.Error:
            self._conn = None
            log.warning("the database is not reachable: the next run marks this run failed")
            return False
        self._locked = bool(
            self.query(
                "SELECT pg_try_advisory_lock(%s)",
                (self._lock_key if self._lock_key is not None else lock_key(self._schema_oid()),),
            )[0][0]
        )
        return True

    def cleanup(self) -> None:
        # Staging tables of a run that lost its lock may be another run's by now.
        if self._revived() and self._locked:
            super().cleanup()

    def record_failure(self, run: RunRecord, error: str) -> None:
        conn = self._conn
        lost = conn is None or conn.closed or conn.broken
        if not self._revived():
            return
        if lost:
            # A commit whose answer was lost may have recorded this run's success.
            rows = self.query(
                f"SELECT status FROM {sql.qname(self.schema, sql.RUNS)} WHERE run_id = %s",
                (run.run_id,),
            )
            if rows and rows[0][0] != "running":
                return
        super().record_failure(run, error)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self.release_lock()
            finally:
                self._conn.close()
                self._conn = None

    def helper(self) -> PostgresLoader:
        other = PostgresLoader(self.uri, self.schema)
        other.unlogged = self.unlogged
        other.connect()
        return other

    def cancel(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.cancel()
            except psycopg.Error:
                log.debug("could not cancel the statement of the second connection")

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        with _database_errors():
            self.conn.execute(statement.encode(), params or None)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with _database_errors():
            return self.conn.execute(statement.encode(), params or None).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        committing = False
        try:
            with self.conn.transaction():
                yield
                committing = True
        except psycopg.Error as exc:
            if committing and lost_connection(exc):
                # The server may have committed before the connection went: nothing can say.
                raise DatabaseError(
                    "the connection to the database was lost while committing "
                    f"({redact_text(str(exc)).strip()}); whether this run published is unknown",
                    hint="run py-load-medgen status: it shows the release loaded and the run",
                ) from None
            raise

    def table_exists(self, table: str) -> bool:
        row = self.query("SELECT to_regclass(%s) IS NOT NULL", (sql.qname(self.schema, table),))
        return bool(row[0][0])

    def tables_present(self, tables: Sequence[str]) -> set[str]:
        rows = self.query(
            "SELECT t FROM unnest(%s::text[]) t WHERE to_regclass(format('%%I.%%I', %s::text, t)) "
            "IS NOT NULL",
            (list(tables), self.schema),
        )
        return {name for (name,) in rows}

    # -- locking ----------------------------------------------------------------------------

    def acquire_lock(self, run_id: str) -> None:
        self.execute(
            "SELECT set_config('application_name', %s, false)", (f"py-load-medgen {run_id}",)
        )
        self._lock_key = lock_key(self._schema_oid())
        got = self.query("SELECT pg_try_advisory_lock(%s)", (self._lock_key,))[0][0]
        if not got:
            raise LockedError(
                f"another load holds the lock on schema {self.schema!r}: {self._holder()}",
                hint="wait for it to finish; a lock of a dead process is released automatically",
            )
        self._locked = True

    def _schema_oid(self) -> int:
        """The schema's OID, creating the schema first when it does not exist yet."""
        for _attempt in range(3):
            rows = self.query("SELECT oid FROM pg_namespace WHERE nspname = %s", (self.schema,))
            if rows:
                return int(rows[0][0])
            with suppress(pgerrors.UniqueViolation):  # another load created it just now
                self.ensure_schema()
        raise DatabaseError(f"schema {self.schema!r} could not be created")

    def _holder(self) -> str:
        key = (self._lock_key or 0) & 0xFFFFFFFFFFFFFFFF
        rows = self.query(
            "SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s "
            "AND l.objid::bigint = %s",
            (key >> 32, key & 0xFFFFFFFF),
        )
        if not rows:
            return "holder unknown (it may just have finished)"
        pid, app, addr, started = rows[0]
        since = f"{started:%Y-%m-%d %H:%M:%S%z}"
        return f"pid {pid} ({app}) from {addr or 'local socket'}, connected since {since}"

    def release_lock(self) -> None:
        if self._locked and self._conn is not None and not self._conn.closed:
            self.query("SELECT pg_advisory_unlock(%s)", (self._lock_key,))
        self._locked = False

    # -- bulk load --------------------------------------------------------------------------

    def create_staging(self, spec: FileSpec, encoded: EncodedFile) -> str:
        # Created by bulk_load, in the transaction of its COPY: see there.
        return sql.staging_name(spec.table)

    def bulk_load(self, spec: FileSpec, encoded: EncodedFile) -> int:
        """CREATE and COPY in one transaction, with FREEZE.

        A table created in the COPY's own transaction can take its rows frozen: nothing reads
        them afterwards only to set hint bits (index builds and ANALYZE would otherwise dirty,
        and with checksums log, every page a second time), and autovacuum never has to freeze
        them later. Under wal_level=minimal such a COPY also skips the write-ahead log.
        """
        table = sql.qname(self.schema, sql.staging_name(spec.table))
        cols = ", ".join(sql.ident(c) for c in encoded.copy_columns)
        delimiter = sql.literal(encoded.layout.delimiter.decode())
        statement = f"COPY {table} ({cols}) FROM STDIN (FORMAT text, DELIMITER {delimiter}, FREEZE)"
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                for ddl in self.staging_ddl(spec, encoded):
                    self.execute(ddl)
                with cur.copy(statement.encode()) as copy:
                    for block in prefetch(encoded.blocks()):
                        copy.write(block)
                return max(cur.rowcount, 0)
        except (pgerrors.DataError, pgerrors.IntegrityError) as exc:
            raise self._input_error(encoded, exc) from None
        except psycopg.Error as exc:
            if lost_connection(exc):
                raise connection_lost(redact_text(str(exc))) from None
            raise

    def _input_error(self, encoded: EncodedFile, exc: psycopg.Error) -> InputError:
        context = exc.diag.context or ""
        match = _COPY_CONTEXT.search(context)
        line = encoded.file_line(int(match.group(1))) if match else None
        column = match.group(2) if match and match.group(2) else None
        constraint = exc.diag.constraint_name
        shape = bool(constraint and constraint.endswith("_shape"))
        if column is None and constraint and shape:  # a CHECK names no column: its name does
            column = constraint.removeprefix(f"{encoded.spec.table}_").removesuffix("_shape")
        source_column = column
        if column is not None:
            for field_name, target in zip(
                encoded.layout.fields, encoded.layout.targets, strict=True
            ):
                if target == column:
                    source_column = field_name
        message = exc.diag.message_primary or str(exc)
        bad_number = (pgerrors.InvalidTextRepresentation, pgerrors.NumericValueOutOfRange)
        if isinstance(exc, bad_number) and match and match.group(3) is not None:
            message = not_an_integer(match.group(3))
        if shape:
            message = "value is not a MedGen concept id (C + 7 digits or CN + digits)"
        return InputError(message, file=encoded.name, line=line, column=source_column)

    def after_staging(self, spec: FileSpec) -> None:
        self._copy_user_indexes(spec)

    def _copy_user_indexes(self, spec: FileSpec) -> None:
        """Indexes users added to a production table are built on its replacement too.

        They are built here, before the swap, so the swap's exclusive lock stays brief.
        """
        if not self.table_exists(spec.table):
            return
        ours = index_names(spec)
        rows = self.query(
            "SELECT c.relname, i.indisunique, "
            "substring(pg_get_indexdef(i.indexrelid) from ' USING .*$') "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = %s::regclass "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
            (sql.qname(self.schema, spec.table),),
        )
        staging = sql.qname(self.schema, sql.staging_name(spec.table))
        for name, unique, definition in rows:
            if name in ours or name.endswith(sql.ANSWER_INDEX_SUFFIX):
                continue
            staged = (sql.STAGING_PREFIX + name)[:63]
            kind = "UNIQUE INDEX" if unique else "INDEX"
            with self.transaction():
                self.execute(f"CREATE {kind} {sql.ident(staged)} ON {staging}{definition}")
            log.info("%s: rebuilt user index %s on the new table", spec.table, name)

    def try_unique_index(self, table: str, index: Index) -> bool:
        name = publish.staged_index(index)
        try:
            with self.transaction():
                self.execute(sql.create_index(self.schema, table, index, name=name))
                self.execute(
                    f"ALTER TABLE {sql.qname(self.schema, table)} ADD CONSTRAINT "
                    f"{sql.ident(name)} PRIMARY KEY USING INDEX {sql.ident(name)}"
                )
        except (pgerrors.UniqueViolation, pgerrors.NotNullViolation):
            return False
        return True

    def analyze(self, table: str) -> None:
        self.execute(f"ANALYZE {sql.qname(self.schema, table)}")

    def analyze_temp(self, table: str) -> None:
        # Autovacuum never analyzes temporary tables; without statistics the planner
        # guesses a nested loop for the delete of changed rows.
        self.execute(f"ANALYZE {sql.ident(table)}")

    # -- publishing locks -------------------------------------------------------------------

    def lock_for_publish(self, replaced: Sequence[str], changed: Sequence[str] = ()) -> None:
        """First thing in the publishing transaction: every lock it needs, in one order.

        Readers lock a view before its tables and tables in their own order; a swap that took
        its locks table by table as it went met them in a cycle, and the server killed one
        side. Here the views go first, then the tables, all within PUBLISH_LOCK_WAIT: on
        expiry the transaction rolls back (holding nothing) and the caller tries again later.
        The table that was busy goes first next time, so readers that touch the tables in one
        order (whichever it is) let the swap through within a few attempts. ``replaced``
        tables (and their staging and dependent views) are locked exclusively; ``changed``
        ones in the mode their rows' changes take anyway, which no reader (nor autovacuum)
        conflicts with.
        """
        wait_ms = self._publish_wait_ms()
        present = self.tables_present([*replaced, *changed])
        tables = [sql.qname(self.schema, t) for t in sorted(set(replaced)) if t in present]
        if self._contended in tables:
            tables.remove(self._contended)
            tables.insert(0, self._contended)
        oids = [self._oid(name) for name in tables]
        views = self.query(_DEPENDENT_VIEWS, (oids,)) if oids else []
        exclusive = [sql.qname(v[1], v[2]) for v in views] + tables
        exclusive += [
            sql.qname(self.schema, sql.staging_name(t))
            for t in sorted({*replaced, *changed})
            if self.table_exists(sql.staging_name(t))
        ]
        plan = [(name, "ACCESS EXCLUSIVE") for name in exclusive]
        plan += [
            (sql.qname(self.schema, t), "ROW EXCLUSIVE")
            for t in sorted(set(changed))
            if t in present
        ]
        deadline = time.monotonic() + wait_ms / 1000
        for name, mode in plan:
            left = max(1, int((deadline - time.monotonic()) * 1000))
            try:
                self.conn.execute(f"SET LOCAL lock_timeout = {left}".encode())
                self.conn.execute(f"LOCK TABLE {name} IN {mode} MODE".encode())
            except (pgerrors.LockNotAvailable, pgerrors.DeadlockDetected):
                self._contended = name
                raise LockWaitError(f"{name} was busy for more than {wait_ms} ms") from None
            except psycopg.Error:
                with _database_errors():
                    raise
        # Later statements of the transaction wait no longer than this either: one that
        # would (a lock the plan missed) fails the attempt rather than risk a deadlock.
        self.execute(f"SET LOCAL lock_timeout = {wait_ms}")

    def _publish_wait_ms(self) -> int:
        rows = self.query("SELECT setting::int FROM pg_settings WHERE name = 'deadlock_timeout'")
        deadlock_ms = int(rows[0][0]) if rows else 1000
        return max(10, min(int(PUBLISH_LOCK_WAIT * 1000), deadlock_ms // 2))

    def _oid(self, qualified: str) -> int:
        return int(self.query("SELECT %s::regclass::oid", (qualified,))[0][0])

    def demote_key(self, spec: FileSpec) -> None:
        """Inside the publishing transaction: the production table's natural key stops being
        unique, as the release about to be applied has duplicate keys.

        The primary key becomes the plain index a full load builds for such a release, under
        the same name, so every later load finds the indexes it expects.
        """
        for wanted in indexes(spec):
            if not wanted.unique:
                continue
            prod = sql.qname(self.schema, spec.table)
            found = self.query(
                "SELECT 1 FROM pg_constraint WHERE conrelid = %s::regclass AND conname = %s",
                (prod, wanted.name),
            )
            if not found:
                return
            fallback = wanted.without_uniqueness()
            self.execute(f"ALTER TABLE {prod} DROP CONSTRAINT {sql.ident(wanted.name)}")
            self.execute(f"DROP INDEX IF EXISTS {sql.qname(self.schema, fallback.name)}")
            self.execute(sql.create_index(self.schema, spec.table, fallback))
            log.warning(
                "%s: the new release repeats natural keys (%s); the primary key becomes a "
                "plain index",
                spec.table,
                ", ".join(wanted.columns),
            )

    def apply_delta(self, change: ChangePlan) -> None:
        if change.key is None:
            self.demote_key(change.spec)
        super().apply_delta(change)

    # -- swap -------------------------------------------------------------------------------

    def swap(self, specs: Sequence[FileSpec]) -> None:
        present = [s for s in specs if self.table_exists(s.table)]
        oids = [
            self.query("SELECT %s::regclass::oid", (sql.qname(self.schema, s.table),))[0][0]
            for s in present
        ]
        views = self.query(_DEPENDENT_VIEWS, (oids,)) if oids else []
        saved_views = [(v, self._grants(v[0])) for v in views]
        for view in reversed(views):
            kind = "MATERIALIZED VIEW" if view[3] == "m" else "VIEW"
            self.execute(f"DROP {kind} {sql.qname(view[1], view[2])}")
        for spec in specs:
            prod = sql.qname(self.schema, spec.table)
            grants = self._grants(prod) if spec in present else []
            if spec in present:
                self.execute(f"DROP TABLE {prod}")
            self.execute(
                f"ALTER TABLE {sql.qname(self.schema, sql.staging_name(spec.table))} "
                f"RENAME TO {sql.ident(spec.table)}"
            )
            for (index_name,) in self.query(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass",
                (prod,),
            ):
                short = self.query(
                    "SELECT relname FROM pg_class WHERE oid = %s::regclass", (index_name,)
                )[0][0]
                if short.startswith(sql.STAGING_PREFIX):
                    self.execute(
                        f"ALTER INDEX {sql.qname(self.schema, short)} RENAME TO "
                        f"{sql.ident(short.removeprefix(sql.STAGING_PREFIX))}"
                    )
            self._apply_grants(prod, "TABLE", grants)
        for view, grants in saved_views:
            _oid, schema, name, relkind, definition, owner, comment, options, _depth = view
            kind = "MATERIALIZED VIEW" if relkind == "m" else "VIEW"
            with_options = f" WITH ({options})" if options and relkind == "v" else ""
            target = sql.qname(schema, name)
            self.execute(f"CREATE {kind} {target}{with_options} AS {definition}")
            self._apply_grants(target, "TABLE", grants)
            if owner != self.query("SELECT current_user")[0][0]:
                self.execute(f"ALTER {kind} {target} OWNER TO {sql.ident(owner)}")
            if comment is not None:
                self.execute(f"COMMENT ON {kind} {target} IS {sql.literal(comment)}")
            log.info("recreated %s %s.%s on the new tables", kind.lower(), schema, name)

    def _grants(self, relation: object) -> list[tuple[str, str, bool]]:
        target = relation if isinstance(relation, str) else None
        if target is None:
            return [
                (g, p, bool(o))
                for g, p, o in self.query(_GRANTS.replace("%s::regclass", "%s"), (relation,))
            ]
        return [(g, p, bool(o)) for g, p, o in self.query(_GRANTS, (target,))]

    def _apply_grants(self, target: str, kind: str, grants: list[tuple[str, str, bool]]) -> None:
        for grantee, privilege, grantable in grants:
            option = " WITH GRANT OPTION" if grantable else ""
            self.execute(f"GRANT {privilege} ON {kind} {target} TO {grantee}{option}")
