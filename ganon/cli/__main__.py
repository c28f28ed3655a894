"""``python -m ganon.cli``: the same command line as ``ganon``."""

from ganon.cli import main

main()
