"""The database itself keeps the audit log append-only (BX-11).

PostgreSQL: a row trigger refuses every UPDATE, and every DELETE of a row younger than 184 days
(the legal minimum; `accounts.audit.purge_expired` only removes older ones). SQLite (the embedded
demo default) refuses UPDATE; Django's test flush there deletes rows, so DELETE stays open and
`verify_audit` is what catches a removed row.
"""
from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION accounts_auditevent_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'the audit log is append-only';
    END IF;
    IF OLD.created_at > now() - interval '184 days' THEN
        RAISE EXCEPTION 'audit rows are kept at least 184 days';
    END IF;
    RETURN OLD;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_auditevent_guard BEFORE UPDATE OR DELETE ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION accounts_auditevent_guard();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS accounts_auditevent_guard ON accounts_auditevent;
DROP FUNCTION IF EXISTS accounts_auditevent_guard();
"""
SQLITE_UP = """
CREATE TRIGGER accounts_auditevent_no_update BEFORE UPDATE ON accounts_auditevent
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS accounts_auditevent_no_update;"


def _run(statements: dict):
    def run(apps, schema_editor):
        sql = statements.get(schema_editor.connection.vendor)
        if sql:
            schema_editor.execute(sql, params=None)
    return run


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_audit_event")]

    operations = [
        migrations.RunPython(_run({"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}),
                             _run({"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN})),
    ]
