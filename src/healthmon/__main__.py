"""`python -m healthmon`: the same as the `healthmon` command."""

import sys

from healthmon.entrypoints.cli import main

sys.exit(main())
