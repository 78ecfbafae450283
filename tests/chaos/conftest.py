"""The chaos suite starts a stack of its own and takes minutes, so it is collected only in its
own part (`make chaos`, which sets BATON_CHAOS=1), never inside the unit+integration part."""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("BATON_CHAOS") == "1" else ["test_*.py"]
