"""``python -m autopeft.cli``."""

from autopeft.cli import main

main()
