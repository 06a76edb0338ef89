#!/bin/bash
# Emulated agent: run.sh as the real one is (src/Misc/layoutroot/run.sh): the listener runs as a
# child of this shell (no exec), and its exit code 4 (a run-once agent received an update) starts
# it once more after 5 s. Signals sent to this shell do not reach the listener.
if [ "$(id -u)" -eq 0 ] && [ -z "${AGENT_ALLOW_RUNASROOT:-}" ]; then
  echo "Must not run interactively with sudo"
  exit 1
fi
DIR="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$DIR"/bin/Agent.Listener run "$@"
returnCode=$?
if [ "$returnCode" -eq 4 ]; then
  sleep 5 >/dev/null
  "$DIR"/bin/Agent.Listener run "$@"
else
  exit "$returnCode"
fi
