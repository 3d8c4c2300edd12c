"""``python -m histomammo.demo``."""

from histomammo.demo import main

raise SystemExit(main())
