"""python manage.py import_history FILE [--dry-run]: a former system's contacts, all or none."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from reports.importer import HEADER, import_history


class Command(BaseCommand):
    help = "Import historical contacts from a CSV with the header " + ",".join(HEADER)

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Check every row, import nothing.")

    def handle(self, *args, file: str, dry_run: bool, **options):
        try:
            with open(file, encoding="utf-8-sig", newline="") as stream:
                result = import_history(stream, dry_run=dry_run)
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"{file}: {error}") from None
        for line, message in result.errors:
            self.stderr.write(f"{file}:{line}: {message}")
        if result.errors:
            raise CommandError(f"{len(result.errors)} bad rows; nothing imported.")
        if dry_run:
            self.stdout.write(f"{result.rows} rows are good; nothing imported (--dry-run).")
            return
        self.stdout.write(
            f"Imported {result.created} contacts ({result.already_there} were there already); "
            f"new inactive queues: {', '.join(result.new_queues) or '-'}; "
            f"new inactive agents: {', '.join(result.new_agents) or '-'}."
        )
