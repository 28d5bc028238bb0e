#!/bin/sh
# Waits for what the app needs, then runs the command (the shape docker-compose setups use).
set -e
echo "entrypoint ready"
exec "$@"
