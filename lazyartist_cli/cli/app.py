"""The ``lazy`` Typer application: subcommands are registered by plain imports."""

import typer

from .. import __version__
from ..allocator import tune_allocator
from . import attack, data, evaluate, export, interpret, study, train

app = typer.Typer(
    name="lazy",
    help="Study how image classifiers take shortcuts on a biased Colored-MNIST.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
)

for sub in (data.app, train.app, evaluate.app, interpret.app, attack.app, study.app, export.app):
    for cmd in sub.registered_commands:
        app.registered_commands.append(cmd)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lazy {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """lazy: Colored-MNIST shortcut studies, end to end."""


def main() -> None:
    tune_allocator()  # before the command allocates its tensors: see allocator.py
    app()
