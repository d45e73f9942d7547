"""``python -m rem``: the same as the ``rem`` command."""

from .cli import main

main()
