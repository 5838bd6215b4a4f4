"""``python -m pipelines.cli``: the ``tokenstats`` command."""

import sys

from pipelines.cli.commands import main

sys.exit(main())
