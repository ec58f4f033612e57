"""`manage.py import_model PATH [--slug ...]`: add a model folder or .zip from this server."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from webapp.catalog import registry
from webapp.catalog.models import LanguageModel


class Command(BaseCommand):
    help = (
        "Copy a model folder (a Glassbox bundle or a Hugging Face GPT-2 folder) or a .zip of "
        "one into the models folder, validate it, load it and register it."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--slug", help="default: the folder's name, lowercased")
        parser.add_argument("--name", help="display name; default: from the slug")
        parser.add_argument("--description", default="")

    def handle(
        self, *args, path: Path, slug: str | None, name: str | None, description: str, **options
    ):
        slug = slug or path.stem.lower().replace("_", "-")
        try:
            if path.suffix.lower() == ".zip":
                with path.open("rb") as archive:
                    record = registry.add_from_archive(
                        archive, slug, name or slug, description, check_in_worker=False
                    )
                record = registry.run_check(record)  # here and now, not in a worker
            else:
                record = registry.import_folder(path, slug, name, description)
        except (registry.ModelRefused, OSError) as exc:
            raise CommandError(str(exc)) from None
        if record.status != LanguageModel.Status.READY:
            raise CommandError(
                f"{record.slug} was added but failed its check: {record.status_reason}"
            )
        self.stdout.write(
            f"{record.slug}: ready ({record.parameters:,} parameters, {record.n_layer} layers, "
            f"sample {record.check_output!r})"
        )
