import sys

from cloud.cli.main import main

sys.exit(main())
