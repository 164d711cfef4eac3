"""`python app.py amocrm …`: what the amoCRM integration needs from us."""
from __future__ import annotations

from pathlib import Path

import click

import settings


@click.group()
def amocrm() -> None:
    """amoCRM: the widget archive to upload to the integration."""


@amocrm.command()
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for manifest.json, script.js, i18n/, images/ and widget.zip.")
@click.option("--url", "url", help="Hourbook's public address the widget calls (default: PUBLIC_URL).")
@click.option("--version", "version", default=None, help="The widget's version (bump on every upload).")
def widget(out: Path, url: str | None, version: str | None) -> None:
    """Build the widget archive for the company and lead cards."""
    from amocrm import widget as builder

    address = url or settings.load().get("PUBLIC_URL") or ""
    try:
        zipped = builder.build(out, address, version or builder.VERSION)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--url") from None
    click.echo(f"{zipped}  (upload it in the amoCRM integration's form; the widget calls {address.rstrip('/')})")
