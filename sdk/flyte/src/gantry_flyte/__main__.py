"""`python -m gantry_flyte` is the `gantry-flyte` command."""

import sys

from gantry_flyte.cli import main

sys.exit(main())
