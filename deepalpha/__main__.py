import sys

from deepalpha.app.cli import main

sys.exit(main())
