"""`python manage.py register_bundled_models`: record every bundle in MODELS_DIR."""

from django.core.management.base import BaseCommand

from webapp.catalog.registry import register_bundled_models


class Command(BaseCommand):
    help = "Validate and register every model bundle in GLASSBOX_MODELS_DIR (idempotent)."

    def handle(self, *args, **options):
        for record in register_bundled_models():
            line = f"{record.slug}: {record.get_status_display()}"
            if record.status_reason:
                line += f" ({record.status_reason})"
            self.stdout.write(line + (" [default]" if record.is_default else ""))
