"""Guards the database itself keeps, beyond what SQLAlchemy can declare.

Postings are append-only and a closed period is frozen: no code path should
try otherwise, and if one does the database refuses. The migration installs
these; tests try to break them and fail.
"""
from __future__ import annotations

SQLITE = [
    """CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings
       BEGIN SELECT RAISE(ABORT, 'postings are append-only'); END""",
    """CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings
       BEGIN SELECT RAISE(ABORT, 'postings are append-only'); END""",
    """CREATE TRIGGER postings_closed_period BEFORE INSERT ON postings
       WHEN (SELECT status FROM periods WHERE id = NEW.period_id) = 'closed'
       BEGIN SELECT RAISE(ABORT, 'period is closed'); END""",
    """CREATE TRIGGER periods_no_reopen BEFORE UPDATE OF status ON periods
       WHEN OLD.status = 'closed' AND NEW.status <> 'closed'
       BEGIN SELECT RAISE(ABORT, 'a closed period stays closed'); END""",
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS postings_no_update",
    "DROP TRIGGER IF EXISTS postings_no_delete",
    "DROP TRIGGER IF EXISTS postings_closed_period",
    "DROP TRIGGER IF EXISTS periods_no_reopen",
]

POSTGRESQL = [
    """CREATE FUNCTION hourbook_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'postings are append-only' USING ERRCODE = 'restrict_violation';
       END $$""",
    """CREATE TRIGGER postings_no_update_delete BEFORE UPDATE OR DELETE ON postings
       FOR EACH ROW EXECUTE FUNCTION hourbook_append_only()""",
    """CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
       FOR EACH STATEMENT EXECUTE FUNCTION hourbook_append_only()""",
    """CREATE FUNCTION hourbook_open_period_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF (SELECT status FROM periods WHERE id = NEW.period_id) = 'closed' THEN
           RAISE EXCEPTION 'period % is closed', NEW.period_id USING ERRCODE = 'restrict_violation';
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER postings_closed_period BEFORE INSERT ON postings
       FOR EACH ROW EXECUTE FUNCTION hourbook_open_period_only()""",
    """CREATE FUNCTION hourbook_no_reopen() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF OLD.status = 'closed' AND NEW.status <> 'closed' THEN
           RAISE EXCEPTION 'a closed period stays closed' USING ERRCODE = 'restrict_violation';
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER periods_no_reopen BEFORE UPDATE ON periods
       FOR EACH ROW EXECUTE FUNCTION hourbook_no_reopen()""",
]

POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS periods_no_reopen ON periods",
    "DROP TRIGGER IF EXISTS postings_closed_period ON postings",
    "DROP TRIGGER IF EXISTS postings_no_truncate ON postings",
    "DROP TRIGGER IF EXISTS postings_no_update_delete ON postings",
    "DROP FUNCTION IF EXISTS hourbook_no_reopen()",
    "DROP FUNCTION IF EXISTS hourbook_open_period_only()",
    "DROP FUNCTION IF EXISTS hourbook_append_only()",
]


# Migration 0011: on PostgreSQL the closed-period guard checks each INSERT
# statement's rows together (a transition table joined to periods) instead of
# row by row. The row trigger cost about as much as the rest of the insert
# for the bulk path's pages of thousands of postings; the guarantee is the
# same for every writer: a statement with one posting into a closed period
# inserts nothing. COPY fires it too.
POSTGRESQL_STATEMENT_GUARD = [
    "DROP TRIGGER IF EXISTS postings_closed_period ON postings",
    "DROP FUNCTION IF EXISTS hourbook_open_period_only()",
    """CREATE FUNCTION hourbook_open_periods_only() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE closed_id bigint;
       BEGIN
         SELECT p.id INTO closed_id FROM periods p
          WHERE p.status = 'closed' AND p.id IN (SELECT DISTINCT period_id FROM new_postings)
          LIMIT 1;
         IF FOUND THEN
           RAISE EXCEPTION 'period % is closed', closed_id USING ERRCODE = 'restrict_violation';
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER postings_closed_period AFTER INSERT ON postings
       REFERENCING NEW TABLE AS new_postings
       FOR EACH STATEMENT EXECUTE FUNCTION hourbook_open_periods_only()""",
]

POSTGRESQL_ROW_GUARD = [
    "DROP TRIGGER IF EXISTS postings_closed_period ON postings",
    "DROP FUNCTION IF EXISTS hourbook_open_periods_only()",
    *[s for s in POSTGRESQL if "open_period_only" in s],
]


def statements(dialect: str, drop: bool = False) -> list[str]:
    if dialect == "sqlite":
        return SQLITE_DROP if drop else SQLITE
    if dialect == "postgresql":
        return POSTGRESQL_DROP if drop else POSTGRESQL
    raise RuntimeError(f"unsupported database: {dialect}")
