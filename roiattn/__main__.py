import sys

from roiattn.cli import main

sys.exit(main())
