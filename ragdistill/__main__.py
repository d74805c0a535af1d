"""`python -m ragdistill`: the `ragdistill` command, for a checkout where the console script is not installed."""

from ragdistill.cli import main

if __name__ == "__main__":
    main()
