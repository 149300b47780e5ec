"""``python -m microgradx.exercises grade|catalogue``: see ``microgradx.exercises.command``."""

import sys

from microgradx.exercises.command import main

sys.exit(main())
