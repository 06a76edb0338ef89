#!/bin/bash
# Emulated agent: config.sh as the real one is (src/Misc/layoutroot/config.sh): it refuses root
# without AGENT_ALLOW_RUNASROOT, needs ldd and ldconfig, and finds libicu the way the real script
# does (apk's icu-libs on Alpine, else `ldconfig -NXv` output naming libicu) whatever
# DOTNET_SYSTEM_GLOBALIZATION_INVARIANT says. Then `remove` or `configure` (see README.md).
if [ "$(id -u)" -eq 0 ] && [ -z "${AGENT_ALLOW_RUNASROOT:-}" ]; then
  echo "Must not run with sudo"
  exit 1
fi

if [[ "$(uname)" == "Linux" ]]; then
  if ! command -v ldd >/dev/null; then
    echo "Can not find 'ldd'. Please install 'ldd' and try again."
    exit 1
  fi
  if [ -e /etc/alpine-release ]; then
    if ! apk info 2>&1 | grep -q icu-libs; then
      echo "icu-libs are missing"
      echo "Execute ./bin/installdependencies.sh to install any missing dependencies."
      exit 1
    fi
  else
    LDCONFIG="ldconfig"
    if ! [ -x "$(command -v "$LDCONFIG")" ]; then
      LDCONFIG="/sbin/ldconfig"
      if ! [ -x "$LDCONFIG" ]; then
        echo "Can not find 'ldconfig' in PATH and '/sbin/ldconfig' doesn't exists either. Please install 'ldconfig' and try again."
        exit 1
      fi
    fi
    libpath="${LD_LIBRARY_PATH:-}"
    if ! "$LDCONFIG" -NXv "${libpath//:/}" 2>&1 | grep -q libicu; then
      echo "libicu's dependencies missing for .NET 6"
      echo "Execute ./bin/installdependencies.sh to install any missing dependencies."
      exit 1
    fi
  fi
fi

cd "$(dirname "${BASH_SOURCE[0]}")" || exit 1
shopt -s nocasematch
if [[ "${1:-}" == "remove" ]]; then
  ./bin/Agent.Listener "$@"
else
  ./bin/Agent.Listener configure "$@"
fi
