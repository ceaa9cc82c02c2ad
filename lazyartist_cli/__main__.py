"""``python -m lazyartist_cli`` runs the ``lazy`` command."""

from .cli.app import main

main()
