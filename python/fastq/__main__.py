"""``python -m fastq``: see ``python -m fastq --help``."""

import sys

from .tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
