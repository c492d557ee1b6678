"""Sample text from a trained character model: the installed ``minrnn-generate`` (minrnn/generate.py).

python scripts/generate.py RUN_DIR_OR_EXPORTED_MODEL --prompt "ROMEO:" --tokens 500
"""

import sys

from minrnn.generate import main

if __name__ == "__main__":
    sys.exit(main())
