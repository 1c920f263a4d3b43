import sys

from clive.cli import main

sys.exit(main())
