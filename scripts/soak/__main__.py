"""`python -m scripts.soak`: what scripts/chaos runs."""

import sys

from scripts.soak.cli import main

sys.exit(main(sys.argv[1:]))
