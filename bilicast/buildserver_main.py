"""`python -m bilicast.buildserver_main WORKSPACE`: a build server alone
(buildserver.py; no page, no watcher) in the foreground until Ctrl-C or
SIGTERM, for the tests and the benchmark. Its own module because it wires
in the CLI, which imports the studio, which imports buildserver.py."""
import sys

from .buildserver import main
from .cli import run

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], run))
