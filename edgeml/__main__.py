"""``python -m edgeml``: the same command line as the ``edgeml`` script."""

from edgeml.cli import main

if __name__ == "__main__":
    main()
