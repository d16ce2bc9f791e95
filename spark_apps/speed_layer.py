"""Speed layer entry point (spark-submit ... spark_apps/speed_layer.py; settings from the
environment, telemetry/config.py). The layer itself is the telemetry.speed package."""

import sys

from telemetry.speed.app import main

if __name__ == "__main__":
    sys.exit(main())
