"""`python -m paperboy.cli`, where no console script is installed."""

from paperboy.cli import main

main()
