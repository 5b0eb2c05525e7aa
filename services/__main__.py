"""`python -m services` is the `pressroom` command."""

from services.cli import main

main()
