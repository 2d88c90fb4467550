"""``safeguard-bot teams-package -o FILE.zip``: the Teams app package to upload."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import fail, settings_of


@click.command("teams-package")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the package (a .zip).")
@click.option("--name", default="Safeguard bot", show_default=True, help="The app's name in Teams (30 characters).")
@click.option("--developer", default=None, help="Who publishes the app (default: the first partnership's name).")
@click.option("--app-version", "version", default="1.0.0", show_default=True, help="The package's version (semver).")
@click.option("--website-url", default=None, help="Developer website (default: https://<teams_domain>/).")
@click.option("--privacy-url", default=None, help="Privacy notice URL (default: the website).")
@click.option("--terms-url", default=None, help="Terms of use URL (default: the website).")
@click.pass_context
def teams_package(ctx: click.Context, output: Path, name: str, developer: str | None, version: str,
                  website_url: str | None, privacy_url: str | None, terms_url: str | None) -> None:
    """Write the Teams app package: the manifest (bot id, scopes personal and team, valid
    domains) and its two icons. Upload it in Teams (Apps > Manage your apps > Upload an app)."""
    from bot.teams_package import PackageError, PackageInfo, write_package

    settings = settings_of(ctx)
    info = PackageInfo(
        app_id=settings.teams_app_id or "", domain=settings.teams_domain or "", name=name,
        developer=developer or settings.partnerships[0].name, version=version,
        website_url=website_url, privacy_url=privacy_url, terms_url=terms_url,
    )
    try:
        write_package(info, output)
    except PackageError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or type(exc).__name__}")
    click.echo(f"wrote {output} (bot {info.app_id}, domain {info.domain})")
