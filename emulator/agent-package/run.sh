#!/bin/bash
# Emulated agent: the listener (see README.md). `--once` runs one job, then exits 0.
if [ "$(id -u)" -eq 0 ] && [ -z "${AGENT_ALLOW_RUNASROOT:-}" ]; then
  echo "Must not run interactively with sudo"
  exit 1
fi
exec node "$(dirname "${BASH_SOURCE[0]}")/bin/agent.js" run "$@"
