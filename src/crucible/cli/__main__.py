"""``python -m crucible.cli``: the ``crucible`` command without the console script."""

from crucible.cli import main

raise SystemExit(main())
