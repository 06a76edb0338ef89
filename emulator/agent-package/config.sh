#!/bin/bash
# Emulated agent: configure (default) or `remove` (see README.md). Like the real one, it refuses
# root unless AGENT_ALLOW_RUNASROOT is set, and runs from its own folder.
if [ "$(id -u)" -eq 0 ] && [ -z "${AGENT_ALLOW_RUNASROOT:-}" ]; then
  echo "Must not run with sudo"
  exit 1
fi
cd "$(dirname "${BASH_SOURCE[0]}")" || exit 1
if [ "${1,,}" = remove ]; then
  exec node ./bin/agent.js "$@"
fi
exec node ./bin/agent.js configure "$@"
