"""``python -m bot`` is the same as ``safeguard-bot``."""

import sys

from bot.cli import main

sys.exit(main())
