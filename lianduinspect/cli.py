"""Command-line tools: `flask --app lianduinspect <group> <command>`. Long work shows a progress bar."""
from __future__ import annotations

import getpass
import os
from datetime import datetime, timezone

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from .db import db, transaction

users_cli = AppGroup("users", help="Accounts.")
demo_cli = AppGroup("demo", help="The Liandu demo data.")
targets_cli = AppGroup("targets", help="The target registry.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


@users_cli.command("create-admin")
@click.option("--username", prompt=True)
@click.option("--full-name", prompt="Full name (姓名)")
@click.option("--password", default=None, help="Read from a prompt when omitted.")
def create_admin(username, full_name, password):
    """Create an administrator account (the first account of a production install)."""
    from .services import users

    if password is None:
        password = getpass.getpass("Password (10+ characters): ")
    with transaction() as session:
        user = users.create_user(session, None, {"username": username, "full_name": full_name, "roles": ["admin"],
                                                  "password": password, "active": True}, now=_now())
    click.echo(f"created admin {user.username} (id {user.id})")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
@click.option("--seed", default=2023, show_default=True)
@click.option("--targets", "target_count", default=640, show_default=True)
def demo_load(if_empty, seed, target_count):
    """Load Liandu's demo data: areas, 1+7 departments, squads, users, scenes, targets, rounds."""
    from .demo import loader
    from .models import User

    if if_empty and db.session.scalar(select(func.count(User.id))):
        click.echo("database already has data; demo not loaded")
        loader.print_logins(click.echo)
        return
    with transaction() as session:
        summary = loader.load(session, seed=seed, targets=target_count, now=_now(), echo=click.echo)
    click.echo("demo loaded: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    loader.print_logins(click.echo)


@targets_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def targets_import(path):
    """Import targets from a CSV or XLSX file; bad rows are reported, not fatal."""
    from .errors import ApiError
    from .services import targets

    with open(path, "rb") as fh:
        data = fh.read()
    try:
        rows = targets.read_table(os.path.basename(path), data)
    except ApiError as err:
        raise click.ClickException(f"{err.code}: {err.details or err.message}") from None
    with click.progressbar(length=len(rows), label="importing") as bar, transaction() as session:
        result = targets.import_targets(session, None, rows, now=_now(), progress=bar.update)
    for row in result["rows"]:
        if row["status"] == "error":
            click.echo(f"row {row['row']}: {row['errors']}", err=True)
    s = result["summary"]
    click.echo(f"{len(rows)} rows: {s['created']} created, {s['updated']} updated, "
               f"{s['unchanged']} unchanged, {s['error']} with errors")


def init_app(app: Flask) -> None:
    """Register the command groups."""
    for group in (users_cli, demo_cli, targets_cli):
        app.cli.add_command(group)
