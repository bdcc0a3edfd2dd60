"""Re-encrypt stored chat content under the newest FIELD_ENCRYPTION_KEYS key (CN-DAT-01)."""
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from accounts.fields import rotate_token
from companion.models import Message

BATCH = 500


class Command(BaseCommand):
    help = "Rotate encrypted message text to the first key in FIELD_ENCRYPTION_KEYS; then drop old keys."

    def handle(self, *args, **options):
        table = connection.ops.quote_name(Message._meta.db_table)
        rotated, last_id = 0, 0
        while True:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    # Raw SQL: the tokens are rotated without ever holding plaintext in model instances.
                    cursor.execute(f"SELECT id, text FROM {table} WHERE id > %s ORDER BY id LIMIT %s", [last_id, BATCH])
                    rows = cursor.fetchall()
                    for pk, token in rows:
                        if token:
                            cursor.execute(f"UPDATE {table} SET text = %s WHERE id = %s", [rotate_token(token), pk])
                            rotated += 1
            if len(rows) < BATCH:
                break
            last_id = rows[-1][0]
        self.stdout.write(self.style.SUCCESS(f"rotated {rotated} messages"))
