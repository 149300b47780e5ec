"""``python -m microgradx demo`` is the same as ``microgradx demo``."""

from microgradx.cli import main

raise SystemExit(main())
