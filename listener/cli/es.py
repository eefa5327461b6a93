"""`listener es ...`: Elasticsearch administration (the store's index lifecycle)."""

from __future__ import annotations

import typer
from rich.console import Console

from listener.cli.common import handle_errors, print_json, settings

es_app = typer.Typer(help="Elasticsearch store administration (LISTENER_STORE=elasticsearch://...).",
                     no_args_is_help=True)
_err = Console(stderr=True)


@es_app.command()
def migrate(
    delete_old: bool = typer.Option(False, "--delete-old", help="Delete the old index once the alias is switched."),
    batch_size: int = typer.Option(1000, min=1, max=10_000, help="Mentions per bulk request while copying."),
    json_output: bool = typer.Option(False, "--json", help="Print what was done as JSON."),
):
    """Copy the store into an index of this listener's schema version and switch the alias (reads never stop;
    writes are refused during the copy and retried by the workers)."""
    from listener.store.base import StoreConfigError
    from listener.store.elastic_migrate import migrate as run_migration

    url = settings().store_url
    with handle_errors():
        if not url.startswith("elasticsearch"):
            raise StoreConfigError("LISTENER_STORE is not an Elasticsearch store (elasticsearch://HOST:9200/INDEX); "
                                   "nothing to migrate")
        report = run_migration(url, delete_old=delete_old, batch_size=batch_size,
                               progress=None if json_output else lambda n: _err.print(f"copied {n}", end="\r"))
    if json_output:
        print_json(report)
    elif report["status"] == "migrated":
        typer.echo(f"migrated {report['index']}: {report['copied']} mentions from {', '.join(report['from'])} "
                   f"to {report['to']} (schema {report['schema']})")
    else:
        typer.echo(f"{report['index']}: {report['status']} (schema {report['schema']})")


def register(app: typer.Typer) -> None:
    app.add_typer(es_app, name="es")
