"""`python -m wsnet` runs the wsnet command line."""

from .cli import main

main()
