"""`python -m pyroku.runtime build|path`: build or locate the stack."""

import sys

from pyroku.runtime.stack import main

sys.exit(main())
