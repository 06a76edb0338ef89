#!/bin/sh
# ACI Build Agents: starts one self-hosted Azure Pipelines agent inside a container.
#
# POSIX sh on purpose (dash, busybox ash, bash): stock images such as alpine have no bash.
# The same file is the container command in bootstrap mode and the ENTRYPOINT of the image
# built from agent/Dockerfile (prebuilt mode). agent/README.md documents the environment
# contract, the phases and the exit codes.
#
# Two paths:
#  * Identity path (AZP_IDENTITY_DIR set; what the tasks use): AciAgentStart registered the agent
#    from outside and mounted its three files (.agent, .credentials, .credentials_rsaparams)
#    read-only. The script downloads the package it was given, copies the files into the agent
#    folder and runs the listener. It never runs config.sh and holds no credential that can
#    register, list or remove agents.
#  * Token path (images run by hand): AZP_URL, AZP_TOKEN or AZP_TOKEN_FILE; config.sh registers
#    the agent. The token never reaches a job:
#     - Stage 1 reads it, deletes AZP_TOKEN_FILE, drops the variables and re-executes this file
#       with `exec`, handing the secret over on file descriptor 3 (a here-document, i.e. a pipe).
#       exec keeps the PID but replaces the environment block that /proc/<pid>/environ shows, so
#       no ancestor of the agent has the secret in its environment, not even the container's PID 1.
#     - Stage 2, the container's PID 1 from then on, never reads it: it starts a short-lived child
#       (configure_with_secret) that inherits descriptor 3, closes its own copy unread and waits.
#       The child reads the secret, downloads the agent and configures it (config.sh gets the
#       secret as VSTS_AGENT_INPUT_TOKEN for that one command; the agent reads and clears it) and
#       exits. When the first job can run, no process and no file holds the secret, and nothing
#       runs with it again: the agent is not deregistered from inside (AciAgentStop and the
#       expired sweep remove it from outside), and a container that ran before gets a freshly
#       downloaded agent instead of the folder its jobs could have rewritten.
#  * Standby mode (AZP_STANDBY=true; a container an ACI standby pool made from a profile): as the
#    identity path, but the script makes the agent's RSA key itself (openssl), prints its public
#    key as one line, waits for its claim's config map (AZP_CONFIGMAP_DIR) and writes the three
#    files from it and the key.
# On both paths AZP_STARTUP_SCRIPT (a secure value) travels the same way on descriptor 4 and is
# read only by a short-lived child, never by PID 1.
#
# The script body is made of functions; the last line calls main. A shell reads a script as
# it runs it, so this keeps a job from changing what this process runs by rewriting the file.

set -u

readonly EX_USAGE=10      # a required variable is missing or invalid
readonly EX_SECRET=11     # the secret or an identity file is missing or unreadable, or the token file cannot be deleted
readonly EX_DEPS=12       # a missing dependency cannot be installed
readonly EX_QUERY=13      # Azure DevOps did not name an agent package (auth, URL, network)
readonly EX_DOWNLOAD=14   # the agent package could not be downloaded
readonly EX_HASH=15       # the downloaded package does not match its sha256
readonly EX_EXTRACT=16    # the package could not be extracted
readonly EX_STARTUP=17    # AZP_STARTUP_SCRIPT failed
readonly EX_CONFIGURE=18  # config.sh failed (registration refused, pool not found, ...)
readonly EX_ICU=19        # libicu is missing and cannot be installed: the agent's config.sh refuses to run
readonly EX_PLATFORM=20   # the service offers no package that runs here (a musl image given a glibc package)
readonly EX_UPDATE=21     # after an agent update the listener did not come back within 20 s
readonly EX_KEY=22        # standby: the agent's key cannot be made, or it died with an earlier start of a claimed container
readonly EX_LIFETIME=0    # AZP_EXPIRES_AT or AZP_MAX_LIFETIME_MINUTES reached: a planned end, not a failure
readonly EX_GONE=0        # the listener failed because its registration was deleted: nothing to restart for

# Seconds the agent gets between SIGTERM and SIGKILL.
readonly STOP_GRACE_SECONDS=15
# After the listener exits for an update: wait, then give the update this long to put the new
# listener in place (Microsoft's run-docker.sh waits 5 s, then up to 15 s more).
readonly UPDATE_SETTLE_SECONDS=5
readonly UPDATE_BUDGET_SECONDS=15
# Attempts for the package query and the download (waits 2, 4, 8, 16 s between them).
readonly HTTP_ATTEMPTS=5
# How long the listener's output copier may take to copy its last lines once the listener is gone.
readonly WATCH_DRAIN_SECONDS=3
# The identity files, as the task mounts them, and their names in the agent folder (with a dot).
readonly IDENTITY_FILES='agent credentials credentials_rsaparams'
# The lines the real listener prints when its registration was deleted (MessageListener.cs,
# Program.cs, strings.json; all on standard error): at session creation MissingAgent or, its token
# refused as unauthorized, VS30063, then it exits 1; noticed while listening, "An error occurred:"
# with the service's TaskAgentNotFoundException ("Agent N could not be found in pool P", the
# emulator's wording of it), then exit 2. A token request answered 400 invalid_client ("The client
# is not valid") is retried for ever: awk then asks PID 1 (USR2) to stop the listener.
# Standby mode: the config map keys (files in AZP_CONFIGMAP_DIR) that complete a claim. The claim
# is complete when CLAIM_KEY is there; the task writes every key in one config-map-only update.
readonly CLAIM_KEY=agentId
# The claim itself carries the run's keys; once this one is there, the container is claimed and
# only its agent's registration is still to come.
readonly CLAIMED_KEY=ACI_RUN_ID
readonly CLAIM_REQUIRED='agentId agentName poolId poolName serverUrl clientId authorizationUrl oauthEndpointUrl'
# How long the other required keys may lag behind CLAIM_KEY (ACI does not say whether a config
# map update appears at once).
readonly CLAIM_SETTLE_SECONDS=10
# The RSA key of `openssl rsa -text -noout` (OpenSSL 1.1 and 3, LibreSSL: colon-separated hex
# under "modulus:", "privateExponent:", ...; "publicExponent: 65537 (0x10001)") as .NET's
# RSAParameters: standard base64 of the big-endian bytes, modulus and d left-padded to 256 bytes,
# the others to 128, the exponent as it is (RSAFileKeyManager, src/run/agentIdentity.ts). Pure
# awk arithmetic, so that mawk, gawk and busybox awk agree and no xxd or od is needed. With
# out= it writes the agent's .credentials_rsaparams there (a UTF-8 byte order mark, two-space
# indentation, no final newline, as File.WriteAllText and Newtonsoft write it); without, it prints
# the one public key line. Run with LC_ALL=C (the byte order mark is three bytes).
# shellcheck disable=SC2016 # an awk program
readonly RSA_PROGRAM='function b64(hex, width,   B, out, i, k, chunk, v, n) {
  B = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  hex = tolower(hex)
  while (length(hex) > 2 && substr(hex, 1, 2) == "00") hex = substr(hex, 3)
  if (length(hex) % 2) hex = "0" hex
  while (length(hex) < width * 2) hex = "00" hex
  out = ""
  for (i = 1; i <= length(hex); i += 6) {
    chunk = substr(hex, i, 6); n = length(chunk) / 2; v = 0
    for (k = 1; k <= 6; k++) v = v * 16 + (k <= length(chunk) ? index("0123456789abcdef", substr(chunk, k, 1)) - 1 : 0)
    out = out substr(B, int(v / 262144) + 1, 1) substr(B, int(v / 4096) % 64 + 1, 1)
    out = out (n > 1 ? substr(B, int(v / 64) % 64 + 1, 1) : "=") (n > 2 ? substr(B, v % 64 + 1, 1) : "=")
  }
  return out
}
/^[A-Za-z0-9]+:/ {
  name = $1; sub(/:$/, "", name); hex[name] = ""
  if (match($0, /\(0x[0-9a-fA-F]+\)/)) hex[name] = substr($0, RSTART + 3, RLENGTH - 4)
  next
}
/^[ \t]/ { v = $0; gsub(/[ \t:]/, "", v); hex[name] = hex[name] v }
END {
  m = hex["modulus"]; while (substr(m, 1, 2) == "00") m = substr(m, 3)
  if (length(m) != 512 || hex["publicExponent"] == "") exit 1
  if (out == "") { printf "aci-agent-public-key exponent=%s modulus=%s\n", b64(hex["publicExponent"], 0), b64(m, 256); exit 0 }
  split("privateExponent prime1 prime2 exponent1 exponent2 coefficient", need, " ")
  for (i = 1; i <= 6; i++) if (hex[need[i]] == "") exit 1
  printf "\357\273\277{\n  \"ContainerName\": \"\",\n  \"UseCng\": false,\n  \"d\": \"%s\",\n  \"dp\": \"%s\",\n  \"dq\": \"%s\",\n  \"exponent\": \"%s\",\n  \"inverseQ\": \"%s\",\n  \"modulus\": \"%s\",\n  \"p\": \"%s\",\n  \"q\": \"%s\"\n}",
    b64(hex["privateExponent"], 256), b64(hex["exponent1"], 128), b64(hex["exponent2"], 128), b64(hex["publicExponent"], 0),
    b64(hex["coefficient"], 128), b64(m, 256), b64(hex["prime1"], 128), b64(hex["prime2"], 128) > out
  close(out)
}'
# shellcheck disable=SC2016 # an awk program
readonly WATCH_PROGRAM='{ print; fflush() }
!noted && (index($0, "The agent no longer exists on the server") || index($0, "VS30063: You are not authorized") || index($0, "could not be found in pool") || index($0, "Agent connect error: The client is not valid")) {
  noted = 1; print "the agent registration is gone" > gone; close(gone)
  if (index($0, "The client is not valid")) system("kill -USR2 " main)
}'

# ---------------------------------------------------------------------------------------------
# Logging

log() {
  printf '%s [aci-agent] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"
}

# phase NAME [key=value ...]: one line per phase, with the seconds since the script started.
# One date call gives both the time stamp and the elapsed seconds.
phase() {
  now=$(date -u '+%s %Y-%m-%dT%H:%M:%SZ')
  phase_at_last "$@"
}

# phase_at_last NAME [key=value ...]: a phase line with the time of the one before, without a date
# process, for a phase that follows it at once on the agent's way online.
phase_at_last() {
  current_phase=$1
  shift
  printf '%s [aci-agent] phase=%s elapsed=%ss %s\n' "${now#* }" "$current_phase" "$((${now%% *} - started_at))" "$*"
}

# ---------------------------------------------------------------------------------------------
# Small helpers

# Values are compared without regard to case through patterns such as [Ss][Pp]: no tr process.
is_true() {
  case ${1:-} in
    [Tt][Rr][Uu][Ee] | 1 | [Yy][Ee][Ss] | [Yy] | [Oo][Nn]) return 0 ;;
    *) return 1 ;;
  esac
}

have() {
  command -v "$1" >/dev/null 2>&1
}

# The "key":"string" value of a one-line JSON document in file $1 (the first line that has it).
json_string() {
  sed -n "/.*\"$2\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/{s//\\1/p;q;}" "$1"
}

json_number() {
  sed -n "/.*\"$2\"[[:space:]]*:[[:space:]]*\\([0-9][0-9]*\\).*/{s//\\1/p;q;}" "$1"
}

# scheme://host[:port] of a URL that has a scheme; other text is returned as it is, unless it
# holds "://" further on (AZP_URL is checked to be http(s) before this is used).
origin_of() {
  case $1 in
    *://*)
      after_scheme=${1#*://}
      printf '%s://%s' "${1%%://*}" "${after_scheme%%[/?#]*}"
      ;;
    *) printf '%s' "$1" ;;
  esac
}

# Escapes " and \ for a double-quoted value of a curl config file.
curl_quote() {
  printf '%s' "$1" | sed 's/[\\"]/\\&/g'
}

# Runs "$@" in the background and waits for it, so that a signal is handled at once instead of
# after a long command. Sets child_rc.
run_child() {
  "$@" &
  wait_child $!
}

# wait first: a child that ended at once may already have been reaped by the shell (while it ran
# a command substitution), and only wait still knows its exit code. A trap interrupts wait with a
# code above 128 while the child runs on: wait again.
wait_child() {
  child_pid=$1
  while :; do
    wait "$child_pid"
    child_rc=$?
    if [ "$child_rc" -le 128 ] || ! kill -0 "$child_pid" 2>/dev/null; then
      break
    fi
  done
  child_pid=
}

# Sleeps without delaying signal handling.
pause() {
  sleep "$1" &
  wait_child $!
}

# ---------------------------------------------------------------------------------------------
# Stage 1: take the secret out of the environment, then re-execute this file without it.

stage1() {
  started_at=$(date +%s)
  phase start pid=$$ uid="$(id -u)" shell="$(readlink /proc/$$/exe 2>/dev/null || echo sh)"

  if [ ! -f "$0" ] || [ ! -r "$0" ]; then
    log "error: start.sh must run from a file (/bin/sh /path/start.sh), not inline with sh -c: it re-executes itself to drop the secret; exit=$EX_SECRET"
    exit "$EX_SECRET"
  fi

  # The startup script may hold secrets (the task passes it as a secure value): it travels on
  # file descriptor 4 and never becomes an environment variable of a job. Whether there is one is
  # no secret: stage 2 starts no child to read an empty one.
  startup_script=${AZP_STARTUP_SCRIPT:-}
  ACI_AGENT_STARTUP_SCRIPT=no
  [ -n "$startup_script" ] && ACI_AGENT_STARTUP_SCRIPT=yes
  ACI_AGENT_STAGE=2
  ACI_AGENT_STARTED_AT=$started_at
  export ACI_AGENT_STAGE ACI_AGENT_STARTED_AT ACI_AGENT_STARTUP_SCRIPT

  if [ -n "${AZP_IDENTITY_DIR:-}" ] || is_true "${AZP_STANDBY:-false}"; then
    # The agent's own files (or, in standby mode, its own key) are the credential: a token given
    # as well is not needed, not read.
    unset AZP_TOKEN AZP_TOKEN_FILE AZP_CLIENT_SECRET VSTS_AGENT_INPUT_TOKEN VSTS_AGENT_INPUT_CLIENTSECRET AZP_STARTUP_SCRIPT
    secrets_source=identity
    is_true "${AZP_STANDBY:-false}" && secrets_source=standby
    phase secrets source="$secrets_source" action=re-exec-without-startup-script
    exec /bin/sh "$0" "$@" 3<&- 4<<EOF
$startup_script
EOF
  fi

  source_name=AZP_TOKEN
  secret=${AZP_TOKEN:-}
  token_file_state=none
  if [ -n "${AZP_TOKEN_FILE:-}" ]; then
    if [ -z "$secret" ]; then
      if ! secret=$(cat -- "$AZP_TOKEN_FILE" 2>/dev/null); then
        log "error: AZP_TOKEN_FILE '$AZP_TOKEN_FILE' cannot be read; exit=$EX_SECRET"
        exit "$EX_SECRET"
      fi
      secret=$(printf '%s' "$secret" | tr -d '\r\n')
      source_name=AZP_TOKEN_FILE
    fi
    # A job must not find the token on disk: delete the file whether or not it was used.
    rm -f -- "$AZP_TOKEN_FILE" 2>/dev/null
    if [ -e "$AZP_TOKEN_FILE" ]; then
      log "error: AZP_TOKEN_FILE '$AZP_TOKEN_FILE' cannot be deleted (read-only mount?), so jobs could read it; pass the token in the secure environment variable AZP_TOKEN instead; exit=$EX_SECRET"
      exit "$EX_SECRET"
    fi
    token_file_state=deleted
  fi

  unset AZP_TOKEN AZP_TOKEN_FILE AZP_CLIENT_SECRET VSTS_AGENT_INPUT_TOKEN VSTS_AGENT_INPUT_CLIENTSECRET AZP_STARTUP_SCRIPT
  phase secrets source="$source_name" token_file="$token_file_state" action=re-exec-without-secret
  exec /bin/sh "$0" "$@" 3<<EOF 4<<EOF2
$secret
EOF
$startup_script
EOF2
}

# ---------------------------------------------------------------------------------------------
# Stage 2: everything else, with a clean environment.

fail() {
  code=$1
  shift
  log "error: phase=$current_phase $*; exit=$code"
  shutdown "$code" "$current_phase failed"
}

validate() {
  url=${AZP_URL:-}
  url=${url%/}
  identity_dir=${AZP_IDENTITY_DIR:-}
  if is_true "${AZP_STANDBY:-false}"; then
    # Made from a container group profile by a standby pool: the run comes later, in the config map.
    mode=standby
    agent_probe=bin/Agent.Listener
    # shellcheck disable=SC3028 # HOSTNAME is read from the environment (Docker and ACI set it)
    container_name=${AZP_CONTAINER_NAME:-${HOSTNAME:-$(uname -n)}}
    configmap_dir=${AZP_CONFIGMAP_DIR:-/mnt/configmap/$container_name}
  elif [ -n "$identity_dir" ]; then
    mode=identity
    # What proves that the agent is in the image; the token path needs config.sh as well.
    agent_probe=bin/Agent.Listener
  else
    mode=token
    agent_probe=config.sh
    case $url in
      https://?* | http://?*) ;;
      "") fail "$EX_USAGE" "AZP_URL is not set (the organization URL, e.g. https://dev.azure.com/contoso)" ;;
      *) fail "$EX_USAGE" "AZP_URL '$url' is not an http(s) URL" ;;
    esac
    case ${AZP_AUTH:-pat} in
      [Pp][Aa][Tt]) auth=pat ;;
      [Ss][Pp]) fail "$EX_USAGE" "AZP_AUTH=SP (registration with a service principal's client secret) is no longer supported: pass a token in AZP_TOKEN (a PAT, or an Entra access token for Azure DevOps) with AZP_AUTH=PAT" ;;
      *) fail "$EX_USAGE" "AZP_AUTH '${AZP_AUTH:-}' is not PAT" ;;
    esac
  fi
  pool=${AZP_POOL:-Default}
  # shellcheck disable=SC3028 # HOSTNAME is read from the environment (Docker and ACI set it)
  agent_name=${AZP_AGENT_NAME:-${HOSTNAME:-$(uname -n)}}
  work=${AZP_WORK:-_work}
  azp_home=${AZP_HOME:-/azp}
  agent_dir=$azp_home/agent
  once=false
  if is_true "${AZP_ONCE:-false}"; then once=true; fi

  case ${AZP_MAX_LIFETIME_MINUTES:-0} in
    0) lifetime_seconds=0 ;;
    # Whole minutes without a leading zero (which shell arithmetic would read as octal).
    [1-9] | [1-9][0-9] | [1-9][0-9][0-9] | [1-9][0-9][0-9][0-9] | [1-9][0-9][0-9][0-9][0-9])
      lifetime_seconds=$((AZP_MAX_LIFETIME_MINUTES * 60))
      ;;
    *)
      lifetime_seconds=$(awk -v v="${AZP_MAX_LIFETIME_MINUTES:-0}" 'BEGIN {
          if (v !~ /^[0-9]+(\.[0-9]+)?$/) exit 1
          s = v * 60; i = int(s); if (i < s) i++; print i }') ||
        fail "$EX_USAGE" "AZP_MAX_LIFETIME_MINUTES '${AZP_MAX_LIFETIME_MINUTES:-}' is not a number of minutes (0 = no limit)"
      ;;
  esac
  expires_at=${AZP_EXPIRES_AT:-}
  case $expires_at in
    "") ;;
    [Nn][Ee][Vv][Ee][Rr]) lifetime_seconds=0 ;;
    *)
      iso_epoch "$expires_at" ||
        fail "$EX_USAGE" "AZP_EXPIRES_AT '$expires_at' is not an ISO 8601 time such as 2026-12-06T20:00:00Z (or never)"
      lifetime_seconds=$((epoch - $(date +%s)))
      # Already past: no timer, the container ends at once (start_lifetime_timer).
      [ "$lifetime_seconds" -gt 0 ] || lifetime_seconds=-1
      ;;
  esac

  if [ "$mode" = identity ]; then
    for f in $IDENTITY_FILES; do
      if [ ! -f "$identity_dir/$f" ] || [ ! -r "$identity_dir/$f" ]; then
        fail "$EX_SECRET" "AZP_IDENTITY_DIR '$identity_dir' has no readable file '$f' (the agent's .$f, as AciAgentStart writes it)"
      fi
    done
  fi

  key_file=$azp_home/.aci-agent-key.pem
  if ! mkdir -p "$azp_home" 2>/dev/null || [ ! -w "$azp_home" ]; then
    fail "$EX_USAGE" "AZP_HOME '$azp_home' cannot be created or written by uid $(id -u)"
  fi
}

# iso_epoch TIME: sets epoch to the seconds since 1970 of an ISO 8601 time
# YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM|-HH:MM|+HHMM|-HHMM] (UTC without a zone). Shell
# arithmetic only: `date -d` is GNU's, busybox's `date -D` takes other formats, and neither
# costs a process here. The date is counted with Howard Hinnant's days_from_civil.
iso_epoch() {
  case $1 in
    [0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9][Tt\ ][0-2][0-9]:[0-5][0-9]:[0-6][0-9]*) ;;
    *) return 1 ;;
  esac
  zone=${1#???????????????????}
  case $zone in
    .[0-9]*)
      zone=${zone#.}
      zone=${zone#"${zone%%[!0-9]*}"}
      ;;
  esac
  case $zone in
    "" | [Zz]) offset=0 ;;
    [+-][0-2][0-9]:[0-5][0-9] | [+-][0-2][0-9][0-5][0-9])
      digits=${zone#?}
      minutes=${digits#??}
      offset=$(((1${digits%"$minutes"} - 100) * 3600 + (1${minutes#:} - 100) * 60))
      [ "${zone%"$digits"}" = - ] && offset=$((-offset))
      ;;
    *) return 1 ;;
  esac
  stamp=${1%"$zone"}
  stamp=${stamp%%.*}
  # 1YYYY - 10000 and 1MM - 100: the fields without leading zeros, which would make them octal.
  year=$((1${stamp%%-*} - 10000))
  stamp=${stamp#*-}
  month=$((1${stamp%%-*} - 100))
  stamp=${stamp#*-}
  day=$((1${stamp%%[Tt ]*} - 100))
  stamp=${stamp#???}
  hour=$((1${stamp%%:*} - 100))
  stamp=${stamp#*:}
  minute=$((1${stamp%%:*} - 100))
  second=$((1${stamp#*:} - 100))
  if [ "$year" -lt 1970 ] || [ "$month" -lt 1 ] || [ "$month" -gt 12 ] || [ "$day" -lt 1 ] || [ "$day" -gt 31 ] ||
    [ "$hour" -gt 23 ] || [ "$minute" -gt 59 ] || [ "$second" -gt 60 ]; then
    return 1
  fi
  if [ "$month" -le 2 ]; then
    year=$((year - 1))
    month=$((month + 9))
  else
    month=$((month - 3))
  fi
  era=$((year / 400))
  year_of_era=$((year - era * 400))
  day_of_era=$((year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + (153 * month + 2) / 5 + day - 1))
  epoch=$(((era * 146097 + day_of_era - 719468) * 86400 + hour * 3600 + minute * 60 + second - offset))
}

# Started once claimed; the claim's completion restarts it only for another expiresAt.
start_lifetime_timer() {
  if [ "$lifetime_seconds" -lt 0 ]; then
    log "phase=lifetime result=passed expires_at=$expires_at action=exit"
    shutdown "$EX_LIFETIME" "AZP_EXPIRES_AT reached"
  fi
  if [ -n "${lifetime_pid:-}" ]; then
    [ "$expires_at" != "${timer_expires_at:-}" ] || return 0
    kill "$lifetime_pid" 2>/dev/null
    lifetime_pid=
  fi
  timer_expires_at=$expires_at
  [ "$lifetime_seconds" -gt 0 ] || return 0
  # A separate process so that nothing here has to poll; its output does not hold the
  # container's log open.
  sh -c 'sleep "$1" && kill -s USR1 "$2"' aci-agent-lifetime "$lifetime_seconds" "$$" >/dev/null 2>&1 3<&- 4<&- &
  lifetime_pid=$!
}

# ---- dependencies ----------------------------------------------------------------------------

have_ca_certificates() {
  for f in "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
    [ -n "$f" ] && [ -s "$f" ] && return 0
  done
  return 1
}

# libicu as the agent's config.sh looks for it, which it does whatever
# DOTNET_SYSTEM_GLOBALIZATION_INVARIANT says: apk's icu-libs on Alpine, else a libicu entry in
# the output of `ldconfig -NXv` (the directories of LD_LIBRARY_PATH included).
have_icu() {
  if [ -e /etc/alpine-release ]; then
    apk info 2>/dev/null | grep -q icu-libs
    return
  fi
  ldconfig_path=$(command -v ldconfig 2>/dev/null) || ldconfig_path=/sbin/ldconfig
  [ -x "$ldconfig_path" ] || return 1
  # shellcheck disable=SC2046 # one argument per directory of LD_LIBRARY_PATH
  "$ldconfig_path" -NXv $(printf '%s' "${LD_LIBRARY_PATH:-}" | tr ':' ' ') 2>&1 | grep -q libicu
}

have_ldconfig() {
  have ldconfig || [ -x /sbin/ldconfig ]
}

missing_dependencies() {
  missing=
  if [ ! -f "$agent_dir/$agent_probe" ]; then
    for tool in curl tar gzip; do
      have "$tool" || missing="$missing $tool"
    done
  fi
  # bash runs config.sh and run.sh; ldd and ldconfig are what config.sh checks the libraries with.
  for tool in bash git ldd; do
    have "$tool" || missing="$missing $tool"
  done
  # The identity path and standby mode watch the listener's output with awk.
  [ "$mode" = token ] || have awk || missing="$missing awk"
  # Standby mode makes the agent's key with openssl.
  [ "$mode" = standby ] && ! have openssl && missing="$missing openssl"
  have_ldconfig || missing="$missing ldconfig"
  have_ca_certificates || missing="$missing ca-certificates"
  have_icu || missing="$missing icu"
  missing=${missing# }
}

package_names() {
  manager=$1
  names=
  for dep in $missing; do
    case $dep in
      icu)
        case $manager in
          apt-get) dep=$(apt-cache pkgnames libicu 2>/dev/null | grep -E '^libicu[0-9]+$' | sort -V | tail -n 1) ;;
          apk) dep=icu-libs ;;
          tdnf) dep=icu ;;
          *) dep=libicu ;;
        esac
        ;;
      ldd | ldconfig)
        case $manager in
          apt-get) dep=libc-bin ;;
          apk) dep=musl-utils ;;
          *) dep=glibc-common ;;
        esac
        ;;
      awk)
        case $manager in
          apt-get) dep=mawk ;;
          *) dep=gawk ;;
        esac
        ;;
    esac
    [ -n "$dep" ] && names="$names $dep"
  done
  names=${names# }
}

# Fails with EX_ICU when libicu is (still) missing: config.sh would stop with exit 1 later.
require_icu() {
  case " $missing " in
    *" icu "*)
      fail "$EX_ICU" "libicu is missing ($1): the agent's config.sh refuses to run without it, even with DOTNET_SYSTEM_GLOBALIZATION_INVARIANT set; use an image with ICU (Debian/Ubuntu: libicuNN, Alpine: icu-libs, Azure Linux/Fedora: icu)"
      ;;
  esac
}

install_dependencies() {
  missing_dependencies
  if [ -z "$missing" ]; then
    phase dependencies result=skipped reason=all-present
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    case " $missing " in
      *" curl "* | *" tar "* | *" gzip "* | *" openssl "*)
        fail "$EX_DEPS" "missing: $missing; not root, so cannot install them (build the image from agent/Dockerfile; standby mode needs openssl in it)"
        ;;
    esac
    require_icu "not root, so it cannot be installed"
    phase dependencies result=incomplete missing="'$missing'" reason=not-root
    return 0
  fi
  for manager in apt-get tdnf dnf yum apk; do
    have "$manager" && break
    manager=
  done
  [ -n "$manager" ] || fail "$EX_DEPS" "missing: $missing; no apt-get, tdnf, dnf, yum or apk to install them"
  phase dependencies missing="'$missing'" manager="$manager"
  case $manager in
    apt-get)
      run_child env DEBIAN_FRONTEND=noninteractive apt-get update -qq
      package_names apt-get
      # shellcheck disable=SC2086 # word splitting of the package list is intended
      [ "$child_rc" = 0 ] && run_child env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $names
      ;;
    apk)
      package_names apk
      # shellcheck disable=SC2086
      run_child apk add --no-cache $names
      ;;
    *)
      package_names "$manager"
      # shellcheck disable=SC2086
      run_child "$manager" install -y $names
      ;;
  esac
  if [ "$child_rc" != 0 ]; then
    [ "$missing" = icu ] && require_icu "$manager could not install it (exit $child_rc)"
    fail "$EX_DEPS" "$manager could not install '$names' (exit $child_rc)"
  fi
  missing_dependencies
  require_icu "still missing after installing '$names'"
  [ -z "$missing" ] || fail "$EX_DEPS" "still missing after installing: $missing"
  phase dependencies result=installed packages="'$names'"
}

# ---- download ---------------------------------------------------------------------------------

detect_platform() {
  case $(uname -m) in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    armv7* | armhf) arch=arm ;;
    *) fail "$EX_DOWNLOAD" "no Azure Pipelines agent for the architecture '$(uname -m)'" ;;
  esac
  platform=linux-$arch
  for f in /lib/ld-musl-*; do
    [ -e "$f" ] && platform=linux-musl-$arch
  done
  # musl's ldd names itself on --version (glibc's prints "ldd (GNU libc)").
  if have ldd && ldd --version 2>&1 | grep -qi musl; then
    platform=linux-musl-$arch
  fi
}

# The Authorization header for Azure DevOps, kept in a shell variable only.
make_auth_header() {
  auth_header="Basic $(printf 'VstsAgent:%s' "$azp_secret" | base64 | tr -d '\n')"
}

# http_get URL OUTFILE WITH_AUTH: sets http_code and curl_rc.
http_get() {
  if [ "$3" = yes ]; then
    printf 'header = "Authorization: %s"\n' "$(curl_quote "$auth_header")"
  else
    printf '\n'
  fi | curl -sS -L -K - -o "$2" -w '%{http_code}' --connect-timeout 20 --max-time 900 \
    -H 'Accept: application/json;api-version=7.1' "$1" >"$azp_home/.http-code" 2>"$azp_home/.http-error" &
  wait_child $!
  curl_rc=$child_rc
  http_code=
  { read -r http_code <"$azp_home/.http-code"; } 2>/dev/null
  http_code=${http_code:-000}
}

# get_with_retries URL OUTFILE WITH_AUTH WHAT EXIT_CODE: 200 or a clear failure. Retries
# connection failures, timeouts, 408, 429 and 5xx with exponential backoff.
get_with_retries() {
  attempt=1
  delay=2
  while :; do
    http_get "$1" "$2" "$3"
    if [ "$curl_rc" = 0 ] && [ "$http_code" = 200 ]; then
      return 0
    fi
    case $http_code in
      000 | 408 | 429 | 5??) transient=yes ;;
      *) transient=no ;;
    esac
    reason="HTTP $http_code"
    [ "$curl_rc" != 0 ] && reason="$reason, curl exit $curl_rc: $(head -c 200 "$azp_home/.http-error" 2>/dev/null | tr '\n' ' ')"
    if [ "$transient" = no ] || [ "$attempt" -ge "$HTTP_ATTEMPTS" ]; then
      [ "$3" = yes ] && case $http_code in
        203) reason="$reason: a sign-in page instead of JSON, so the token was not accepted (expired, revoked or for another organization?)" ;;
        401) reason="$reason: the token was rejected (expired or revoked?)" ;;
        403) reason="$reason: access denied (the token needs the Agent Pools (read & manage) scope)" ;;
        404) reason="$reason: not found (is AZP_URL the organization URL?)" ;;
      esac
      fail "$5" "$4 failed after $attempt attempt(s): $reason"
    fi
    log "phase=$current_phase retry=$attempt wait=${delay}s reason=\"$reason\""
    pause "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
  done
}

sha256_of() {
  if have sha256sum; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif have openssl; then
    openssl dgst -sha256 "$1" | sed 's/.*= *//'
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

# A hash as the agent compares it: case and hyphens do not count.
normal_hash() {
  sed 's/-//g; y/ABCDEF/abcdef/'
}

# The service has published linux-musl-* entries whose package is the glibc build, which
# cannot run here (its hash does not match either). Say so instead of a bare hash mismatch.
check_package_platform() {
  case $platform in
    linux-musl-*) ;;
    *) return 0 ;;
  esac
  case ${download_url##*/}${file_name:-} in
    *musl*) return 0 ;;
  esac
  fail "$EX_PLATFORM" "this is a musl image (Alpine?) and the service's $platform entry points at a glibc package ($download_url), which cannot run here (a known fault of the service's agent feed); use a glibc image such as debian:bookworm-slim, or a prebuilt image"
}

# Token path: asks the organization's feed for the package, then fetch_package.
download_agent() {
  if [ -f "$agent_dir/$agent_probe" ]; then
    phase download result=skipped reason=agent-already-in-image dir="$agent_dir"
    return 0
  fi
  detect_platform
  make_auth_header
  phase download platform="$platform"
  query=$azp_home/.agent-package.json
  get_with_retries "$url/_apis/distributedtask/packages/agent?platform=$platform&top=1" "$query" yes \
    "asking $url for the agent package" "$EX_QUERY"
  first_line=
  { IFS= read -r first_line <"$query"; } 2>/dev/null
  if [ "${first_line#"{"}" = "$first_line" ]; then
    fail "$EX_QUERY" "$url answered with a page that is not JSON (a sign-in page: the token was not accepted)"
  fi
  if [ "$(json_number "$query" count)" = 0 ]; then
    fail "$EX_QUERY" "$url has no agent package for platform $platform"
  fi
  download_url=$(json_string "$query" downloadUrl)
  file_name=$(json_string "$query" filename)
  expected_hash=$(json_string "$query" hashValue | normal_hash)
  [ -n "$download_url" ] || fail "$EX_QUERY" "the agent package answer has no downloadUrl"
  rm -f "$query"
  # The agent's own updater refuses a package without a hash; so does this script.
  [ -n "$expected_hash" ] || fail "$EX_HASH" "the service gave no hashValue for ${file_name:-the $platform package}, so it cannot be verified; nothing was downloaded"
  check_package_platform

  # The public CDN needs no credential; send it only to the organization's own host.
  with_auth=no
  [ "$(origin_of "$download_url")" = "$(origin_of "$url")" ] && with_auth=yes
  fetch_package
}

# Identity path: the package the task read from the feed, given as AZP_AGENT_PACKAGE_URL (or
# AZP_AGENT_MUSL_PACKAGE_URL on musl) and its sha256; downloaded without any credential.
download_given_package() {
  if [ -f "$agent_dir/$agent_probe" ]; then
    phase download result=skipped reason=agent-already-in-image dir="$agent_dir"
    return 0
  fi
  detect_platform
  case $platform in
    linux-musl-*)
      package_variable=AZP_AGENT_MUSL_PACKAGE_URL
      download_url=${AZP_AGENT_MUSL_PACKAGE_URL:-}
      expected_hash=${AZP_AGENT_MUSL_PACKAGE_SHA256:-}
      [ -n "$download_url" ] ||
        fail "$EX_PLATFORM" "this is a musl image (Alpine?) and no AZP_AGENT_MUSL_PACKAGE_URL was given (the service's agent feed offers no $platform package); use a glibc image such as debian:bookworm-slim, or a prebuilt image"
      ;;
    *)
      package_variable=AZP_AGENT_PACKAGE_URL
      download_url=${AZP_AGENT_PACKAGE_URL:-}
      expected_hash=${AZP_AGENT_PACKAGE_SHA256:-}
      [ -n "$download_url" ] ||
        fail "$EX_USAGE" "AZP_AGENT_PACKAGE_URL is not set and the image has no agent ($agent_dir/$agent_probe)"
      ;;
  esac
  file_name=${download_url##*/}
  file_name=${file_name%%[?#]*}
  phase download platform="$platform" source="$package_variable"
  [ -n "$expected_hash" ] || fail "$EX_HASH" "${package_variable%URL}SHA256 is not set, so ${file_name:-the package} cannot be verified; nothing was downloaded"
  expected_hash=$(printf '%s\n' "$expected_hash" | normal_hash)
  check_package_platform
  with_auth=no
  fetch_package
}

# Downloads download_url, checks it against expected_hash and extracts it into the agent folder.
fetch_package() {
  archive=$azp_home/agent.tar.gz
  get_with_retries "$download_url" "$archive" "$with_auth" "downloading ${file_name:-$download_url}" "$EX_DOWNLOAD"

  actual_hash=$(sha256_of "$archive" | normal_hash)
  if [ "$actual_hash" != "$expected_hash" ]; then
    rm -f "$archive"
    fail "$EX_HASH" "sha256 mismatch for ${file_name:-agent package}: expected $expected_hash, got $actual_hash; nothing was run"
  fi

  phase extract file="${file_name:-agent.tar.gz}" sha256=verified
  staging=$azp_home/.agent-extract
  rm -rf "$staging"
  mkdir -p "$staging" || fail "$EX_EXTRACT" "cannot create $staging"
  run_child tar -xzf "$archive" -C "$staging"
  [ "$child_rc" = 0 ] || fail "$EX_EXTRACT" "tar could not extract $archive (exit $child_rc)"
  [ -f "$staging/$agent_probe" ] || fail "$EX_EXTRACT" "the package has no $agent_probe"
  rm -rf "$agent_dir"
  mv "$staging" "$agent_dir" || fail "$EX_EXTRACT" "cannot move the agent to $agent_dir"
  rm -f "$archive"
}

# ---- startup script ---------------------------------------------------------------------------

run_startup_script() {
  if [ -z "$startup_script" ]; then
    phase startup-script result=skipped reason=none
    return 0
  fi
  shell="sh"
  have bash && shell=bash
  phase startup-script shell="$shell"
  (cd "$azp_home" && exec "$shell" -c "$startup_script" aci-startup-script) 3<&- 4<&- &
  wait_child $!
  [ "$child_rc" = 0 ] || fail "$EX_STARTUP" "AZP_STARTUP_SCRIPT exited with $child_rc (see the lines above)"
}

# ---- configure ---------------------------------------------------------------------------------

# A container that ran before (restarted by its restart policy, or by hand) may have run jobs,
# and a job can rewrite anything under AZP_HOME: never run that agent folder with the secret.
# Remove it, so that the agent is downloaded again and its hash checked.
discard_used_agent() {
  marker=$azp_home/.aci-agent-started
  ran_before=no
  if [ -e "$marker" ] || [ -e "$agent_dir/.agent" ] || [ -e "$agent_dir/.credentials" ]; then
    log "phase=setup note=container-ran-before action=discard-agent-folder dir=$agent_dir"
    ran_before=yes
    rm -rf "$agent_dir"
    [ ! -e "$agent_dir" ] || fail "$EX_CONFIGURE" "cannot remove $agent_dir, which jobs of an earlier run could have changed"
  fi
  : >"$marker"
}

configure_agent() {
  cd "$agent_dir" || fail "$EX_CONFIGURE" "cannot enter $agent_dir"
  phase configure pool="$pool" agent="$agent_name" auth="$auth" work="$work"
  VSTS_AGENT_INPUT_TOKEN=$azp_secret ./config.sh --unattended --url "$url" --auth pat \
    --pool "$pool" --agent "$agent_name" --work "$work" --replace --acceptTeeEula &
  wait_child $!
  [ "$child_rc" = 0 ] || fail "$EX_CONFIGURE" "config.sh exited with $child_rc (see the lines above)"
}

# The only process that ever reads the secret: a child of PID 1 that reads it from descriptor 3,
# downloads the agent, runs the startup script, configures the agent and exits. Its memory, and
# with it the secret, is gone before the listener takes the first job.
configure_with_secret() {
  secret_child=1
  azp_secret=
  IFS= read -r azp_secret 2>/dev/null <&3
  exec 3<&-
  startup_script=$(cat 2>/dev/null <&4)
  exec 4<&-
  if [ -z "$azp_secret" ]; then
    fail "$EX_SECRET" "no token: set AZP_TOKEN (a secure environment variable) or AZP_TOKEN_FILE, or give the agent's files in AZP_IDENTITY_DIR"
  fi
  download_agent
  run_startup_script
  configure_agent
  exit 0
}

# ---- identity path ------------------------------------------------------------------------------

# Identity path: a short-lived child of PID 1 reads AZP_STARTUP_SCRIPT from descriptor 4 and runs
# it; PID 1 closes its copy unread. A container that ran before does not run it again: its tools
# are installed, and its jobs could have changed the programs that would run it.
startup_script_child() {
  if [ "$has_startup_script" = no ]; then
    phase startup-script result=skipped reason=none
  elif [ "$ran_before" = yes ]; then
    phase startup-script result=skipped reason=container-ran-before
  else
    startup_child &
    exec 4<&-
    wait_child $!
    [ "$child_rc" = 0 ] || shutdown "$child_rc" "the startup script failed (see the error above)"
  fi
  exec 4<&-
}

startup_child() {
  secret_child=1
  startup_script=$(cat 2>/dev/null <&4)
  exec 4<&-
  run_startup_script
  exit 0
}

# Copies (never links: the mount is the task's) the agent's three files into the agent folder,
# readable by this user only.
install_identity() {
  phase identity dir="$identity_dir" agent_id="$(json_number "$identity_dir/agent" agentId)"
  for f in $IDENTITY_FILES; do
    cp "$identity_dir/$f" "$agent_dir/.$f" || fail "$EX_SECRET" "cannot copy $identity_dir/$f to $agent_dir/.$f"
  done
  chmod 600 "$agent_dir/.agent" "$agent_dir/.credentials" "$agent_dir/.credentials_rsaparams" ||
    fail "$EX_SECRET" "cannot make the agent's files in $agent_dir private (chmod 600)"
  prepare_watch
}

# The FIFO through which awk copies the listener's output (start_listener).
prepare_watch() {
  listener_fifo=$azp_home/.listener-output
  gone_marker=$azp_home/.registration-gone
  rm -f "$listener_fifo" "$gone_marker"
  mkfifo -m 600 "$listener_fifo" || fail "$EX_USAGE" "cannot create the FIFO $listener_fifo"
  # mawk reads a pipe in blocks unless told to read it line by line; other awks read what is there.
  watch_awk='awk'
  have mawk && watch_awk='mawk -W interactive'
}

# ---- standby mode -------------------------------------------------------------------------------

# The agent's RSA-2048 key, made here and kept only in key_file (mode 0600); its public half goes
# to the log as one line for the task to register. A container whose claim is already complete
# at its start (restarted after its claim) needs the key that was registered: that of its earlier
# start if it survived, else it stops with EX_KEY (ACI restarts with a fresh file system).
make_agent_key() {
  current_phase=key
  if [ -s "$configmap_dir/$CLAIM_KEY" ]; then
    if [ -s "$key_file" ] && openssl rsa -in "$key_file" -noout 2>/dev/null; then
      phase key bits=2048 result=reused reason=claimed-before-this-start
      print_public_key
      return 0
    fi
    fail "$EX_KEY" "this container was claimed before this start (the config map has $CLAIM_KEY) and the key its agent was registered with died with that start; AciAgentStop removes the agent"
  fi
  phase key bits=2048
  rm -f "$key_file"
  (umask 077 && exec openssl genrsa -out "$key_file" 2048) >/dev/null 2>&1 &
  wait_child $!
  if [ "$child_rc" != 0 ] || [ ! -s "$key_file" ]; then
    fail "$EX_KEY" "openssl genrsa could not make the agent's key (exit $child_rc)"
  fi
  chmod 600 "$key_file" || fail "$EX_KEY" "cannot make $key_file private (chmod 600)"
  print_public_key
}

# rsa_fields [OUT]: the key's integers through RSA_PROGRAM (see there); a pipe between two
# children, so the private ones pass through no variable and no log.
rsa_fields() {
  openssl rsa -in "$key_file" -text -noout 2>/dev/null | LC_ALL=C awk -v out="${1:-}" "$RSA_PROGRAM"
}

print_public_key() {
  public_line=$(rsa_fields) || fail "$EX_KEY" "cannot read the public key of $key_file"
  printf '%s\n' "$public_line"
}

# Writes the agent's .credentials_rsaparams from its key before the claim: it depends on nothing
# of the run, and every moment after the claim is on the agent's way online.
write_key_params() {
  rm -f "$agent_dir/.credentials_rsaparams"
  (umask 077 && rsa_fields "$agent_dir/.credentials_rsaparams") ||
    fail "$EX_KEY" "cannot write $agent_dir/.credentials_rsaparams from $key_file"
}

# Waits for the config map key that completes the claim, then for the other required keys
# (CLAIM_SETTLE_SECONDS). Unclaimed, it looks five times a second; claimed (CLAIMED_KEY there), the
# rest comes within the registration's time and every moment is on the agent's way online, so it
# looks twenty times a second. Where sleep takes no fractions (POSIX promises whole seconds only;
# GNU coreutils and busybox take them) it looks once a second. Each look is a sleep, so a stop
# signal is handled at once.
await_claim() {
  claim_poll=1
  claimed_poll=1
  claimed_looks_per_second=1
  if sleep 0.01 2>/dev/null; then
    claim_poll=0.2
    claimed_poll=0.05
    claimed_looks_per_second=20
  fi
  phase claim-wait dir="$configmap_dir" key="$CLAIM_KEY" every="${claim_poll}s"
  poll=$claim_poll
  claimed='' timed=''
  while [ ! -s "$configmap_dir/$CLAIM_KEY" ]; do
    if [ -z "$claimed" ] && [ -s "$configmap_dir/$CLAIMED_KEY" ]; then
      claimed=true
      poll=$claimed_poll
      phase claimed key="$CLAIMED_KEY" every="${claimed_poll}s"
    fi
    # Claimed, the container's lifetime runs, even if its step dies before completing the claim.
    # The claim's expiresAt may land a moment after its other keys.
    if [ -n "$claimed" ] && [ -z "$timed" ] && [ -s "$configmap_dir/expiresAt" ]; then
      timed=true
      claim_lifetime
      log "phase=claimed note=lifetime-started expires_at=$expires_at"
      start_lifetime_timer
    fi
    pause "$poll"
  done
  # ACI does not say that a config map's files change at once: the rest may land a moment after
  # CLAIM_KEY, and is looked for at the claimed pace.
  looks=0
  while :; do
    absent='' pending=''
    for key in $CLAIM_REQUIRED; do
      [ -s "$configmap_dir/$key" ] || absent="$absent $key" pending="$pending${pending:+,}$key"
    done
    [ -n "$absent" ] || break
    [ "$looks" != 0 ] || log "phase=claim-wait note=keys-pending key=$CLAIM_KEY every=${claimed_poll}s absent=$pending"
    [ "$looks" -lt "$((CLAIM_SETTLE_SECONDS * claimed_looks_per_second))" ] ||
      fail "$EX_USAGE" "the config map in $configmap_dir has $CLAIM_KEY but not:$absent (AciAgentStart writes them all at once)"
    pause "$claimed_poll"
    looks=$((looks + 1))
  done
}

# claim_value KEY [http|number|text]: sets value to the config map key's text (without trailing
# newlines), checked: one line without control characters. Read with the shell's own read (no
# child process: twenty agents claimed at once share their host's cores in the emulator).
claim_value() {
  value='' extra=''
  if [ -f "$configmap_dir/$1" ]; then
    {
      IFS= read -r value || :
      while IFS= read -r line || [ -n "$line" ]; do extra="$extra$line"; line=; done
    } <"$configmap_dir/$1" 2>/dev/null
  fi
  value=${value%"$cr"}
  case $value$extra in
    *[[:cntrl:]]*) fail "$EX_USAGE" "the config map key $1 holds a control character" ;;
  esac
  [ -z "$extra" ] || fail "$EX_USAGE" "the config map key $1 holds a control character (a line break)"
  case ${2:-text} in
    number)
      case $value in
        "" | *[!0-9]*) fail "$EX_USAGE" "the config map key $1 '$value' is not a number" ;;
      esac
      ;;
    http)
      case $value in
        https://?* | http://?*) ;;
        *) fail "$EX_USAGE" "the config map key $1 '$value' is not an http(s) URL" ;;
      esac
      ;;
  esac
}

# json_text VALUE: sets text to VALUE as a JSON string's text, \ and " escaped (claim_value refused
# control characters); by parameter expansion, without a child process.
json_text() {
  rest=$1 text=
  while :; do
    case $rest in
      *[\\\"]*) ;;
      *) break ;;
    esac
    head=${rest%%[\\\"]*}
    rest=${rest#"$head"}
    text="$text$head\\${rest%"${rest#?}"}"
    rest=${rest#?}
  done
  text=$text$rest
}

# Reads the claim and writes the agent's three files as config.sh writes them (a UTF-8 byte order
# mark, two-space indentation, no final newline; src/run/agentIdentity.ts), mode 0600; exports
# ACI_RUN_ID and ACI_FLEET; once and expiresAt replace AZP_ONCE and AZP_EXPIRES_AT.
claim_identity() {
  claim_value agentId number
  c_agent_id=$value
  claim_value poolId number
  c_pool_id=$value
  claim_value agentName
  agent_name=$value
  json_text "$value"
  c_agent_name=$text
  claim_value poolName
  json_text "$value"
  c_pool_name=$text
  claim_value serverUrl http
  json_text "$value"
  c_server_url=$text
  claim_value clientId
  json_text "$value"
  c_client_id=$text
  claim_value authorizationUrl http
  json_text "$value"
  c_authorization_url=$text
  claim_value oauthEndpointUrl http
  json_text "$value"
  c_oauth_url=$text
  json_text "$work"
  c_work=$text
  claim_value ACI_RUN_ID
  if [ -n "$value" ]; then ACI_RUN_ID=$value && export ACI_RUN_ID; fi
  claim_value ACI_FLEET
  if [ -n "$value" ]; then ACI_FLEET=$value && export ACI_FLEET; fi
  claim_value once
  if [ -n "$value" ]; then
    once=false
    is_true "$value" && once=true
  fi
  claim_lifetime
  phase claim agent_id="$c_agent_id" agent="$agent_name" pool_id="$c_pool_id" run_id="${ACI_RUN_ID:-none}" \
    fleet="${ACI_FLEET:-none}" once="$once" expires_at="${expires_at:-none}"

  # Made new under umask 077, each file is 0600 without a chmod, and without a subshell.
  # discard_used_agent removed older ones and write_key_params wrote its own so; one made since (by
  # a startup script, say) would keep its mode, so it goes first.
  if [ -e "$agent_dir/.agent" ] || [ -e "$agent_dir/.credentials" ]; then
    rm -f "$agent_dir/.agent" "$agent_dir/.credentials" || fail "$EX_SECRET" "cannot replace the agent's files in $agent_dir"
  fi
  umask 077
  printf '%s{\n  "agentId": %s,\n  "agentName": "%s",\n  "poolId": %s,\n  "poolName": "%s",\n  "serverUrl": "%s",\n  "workFolder": "%s"\n}' \
    "$bom" "$c_agent_id" "$c_agent_name" "$c_pool_id" "$c_pool_name" "$c_server_url" "$c_work" >"$agent_dir/.agent" &&
    printf '%s{\n  "scheme": "OAuth",\n  "data": {\n    "clientId": "%s",\n    "authorizationUrl": "%s",\n    "oauthEndpointUrl": "%s"\n  }\n}' \
      "$bom" "$c_client_id" "$c_authorization_url" "$c_oauth_url" >"$agent_dir/.credentials"
  written=$?
  umask "$claim_umask"
  [ "$written" = 0 ] || fail "$EX_SECRET" "cannot write the agent's files in $agent_dir"
  [ -s "$agent_dir/.credentials_rsaparams" ] || write_key_params
  phase_at_last identity source=config-map agent_id="$c_agent_id"
}

# The lifetime the claim gives (expiresAt, also among the run's keys the claim itself carries):
# without it, AZP_EXPIRES_AT of the profile, else AZP_MAX_LIFETIME_MINUTES counted from the claim.
claim_lifetime() {
  claim_value expiresAt
  [ -n "$value" ] || value=${AZP_EXPIRES_AT:-}
  case $value in
    "") ;;
    [Nn][Ee][Vv][Ee][Rr]) expires_at=never lifetime_seconds=0 ;;
    # The claim's own keys brought this time and started its timer: no date process again.
    "${timer_expires_at:-}") ;;
    *)
      expires_at=$value
      iso_epoch "$expires_at" ||
        fail "$EX_USAGE" "the config map key expiresAt '$expires_at' is not an ISO 8601 time such as 2026-12-06T20:00:00Z (or never)"
      lifetime_seconds=$((epoch - $(date +%s)))
      [ "$lifetime_seconds" -gt 0 ] || lifetime_seconds=-1
      ;;
  esac
}

# What the claim's last moments need and no claim decides, made while the container waits: the
# characters the files are written with, the umask to return to after them, and the FIFO of the
# listener's output.
prepare_claim() {
  cr=$(printf '\r')
  bom=$(printf '\357\273\277')
  claim_umask=$(umask)
  prepare_watch
}

stop_agent() {
  if [ -n "${agent_pid:-}" ] && kill -0 "$agent_pid" 2>/dev/null; then
    log "phase=stop agent_pid=$agent_pid signal=$stop_signal grace=${STOP_GRACE_SECONDS}s"
    kill -s "$stop_signal" "$agent_pid" 2>/dev/null
    sh -c 'sleep "$1"; kill -KILL "$2"' aci-agent-watchdog "$STOP_GRACE_SECONDS" "$agent_pid" >/dev/null 2>&1 &
    watchdog_pid=$!
    wait_child "$agent_pid"
    kill "$watchdog_pid" 2>/dev/null
    agent_rc=$child_rc
  fi
  agent_pid=
  finish_watch
}

# Identity path: the listener's output goes through a FIFO to one awk, which copies every line to
# the container log at once and notes in gone_marker that the listener said its registration is
# gone. It ignores the stop signals, so that it copies the listener's last lines too. $! stays
# the listener's PID: signals reach the listener itself.
start_listener() {
  if [ "$mode" = token ]; then
    ./bin/Agent.Listener "$@" &
    agent_pid=$!
    return 0
  fi
  [ ! -e "$gone_marker" ] || rm -f "$gone_marker"
  # shellcheck disable=SC2086 # watch_awk is a command and its options
  (trap '' TERM INT HUP && exec $watch_awk -v gone="$gone_marker" -v main="$$" "$WATCH_PROGRAM") <"$listener_fifo" &
  watch_pid=$!
  ./bin/Agent.Listener "$@" >"$listener_fifo" 2>&1 &
  agent_pid=$!
}

# Lets awk copy what the listener wrote last; it ends when the listener's output closes. Something
# the listener started may still hold that open: awk is ended after WATCH_DRAIN_SECONDS.
finish_watch() {
  [ -n "${watch_pid:-}" ] || return 0
  if kill -0 "$watch_pid" 2>/dev/null; then
    sh -c 'sleep "$1"; kill -KILL "$2"' aci-agent-watchdog "$WATCH_DRAIN_SECONDS" "$watch_pid" >/dev/null 2>&1 &
    drain_pid=$!
    wait_child "$watch_pid"
    kill "$drain_pid" 2>/dev/null
  fi
  watch_pid=
}

# shutdown CODE REASON: the one way out of stage 2. The configuring child just exits: PID 1
# sees its exit code.
shutdown() {
  [ -z "${secret_child:-}" ] || exit "$1"
  [ -z "${shutting_down:-}" ] || exit "$1"
  shutting_down=1
  trap ':' TERM INT HUP USR1 USR2
  [ -n "${lifetime_pid:-}" ] && kill "$lifetime_pid" 2>/dev/null
  [ -n "${child_pid:-}" ] && kill -TERM "$child_pid" 2>/dev/null
  stop_agent
  phase exit code="$1" reason="'$2'"
  exit "$1"
}

# shellcheck disable=SC2317 # called from a trap
on_signal() {
  log "phase=${current_phase:-start} signal=$1"
  case $1 in
    INT)
      stop_signal=INT
      shutdown 130 "SIGINT received"
      ;;
    HUP) shutdown 129 "SIGHUP received" ;;
    *) shutdown 143 "SIGTERM received" ;;
  esac
}

# shellcheck disable=SC2317 # called from a trap
on_registration_gone() {
  log "phase=run note=registration-gone action=stop-agent"
  shutdown "$EX_GONE" "the agent registration is gone"
}

# shellcheck disable=SC2317 # called from a trap
on_lifetime() {
  if [ -n "$expires_at" ]; then
    log "phase=lifetime result=reached expires_at=$expires_at action=stop-agent"
    shutdown "$EX_LIFETIME" "AZP_EXPIRES_AT reached"
  fi
  log "phase=lifetime result=reached minutes=${AZP_MAX_LIFETIME_MINUTES:-} action=stop-agent"
  shutdown "$EX_LIFETIME" "AZP_MAX_LIFETIME_MINUTES reached"
}

# Waits for the update that made the listener exit to put the new listener in place.
await_update() {
  pause "$UPDATE_SETTLE_SECONDS"
  waited=0
  while [ ! -x ./bin/Agent.Listener ]; do
    [ "$waited" -lt "$UPDATE_BUDGET_SECONDS" ] ||
      fail "$EX_UPDATE" "the agent updated itself, but bin/Agent.Listener did not come back within $((UPDATE_SETTLE_SECONDS + UPDATE_BUDGET_SECONDS)) s"
    pause 1
    waited=$((waited + 1))
  done
}

# Runs bin/Agent.Listener as run.sh does, but as this process's own child: a stop signal goes to
# the listener itself, which cancels its job and closes its session (run.sh would pass nothing
# on). Like Microsoft's run-docker.sh, it starts the listener again after an update (exit 3, or 4
# when it runs once), and a long-lived one runs with --startuptype service so that the updater
# does not start a second listener of its own.
run_agent() {
  cd "$agent_dir" || fail "$EX_CONFIGURE" "cannot enter $agent_dir"
  if [ "$once" = true ]; then
    set -- run --once
  else
    set -- run --startuptype service
  fi
  starts=0
  while :; do
    starts=$((starts + 1))
    start_listener "$@"
    phase run agent_pid="$agent_pid" once="$once" start="$starts"
    wait_child "$agent_pid"
    agent_rc=$child_rc
    agent_pid=
    finish_watch
    case $agent_rc in
      3 | 4)
        phase update agent_exit="$agent_rc" action=restart
        await_update
        ;;
      *) break ;;
    esac
  done
  if [ "$agent_rc" != 0 ] && [ -n "$gone_marker" ] && [ -e "$gone_marker" ]; then
    # Restarting cannot help (restart policy OnFailure would loop): AciAgentStop removed it.
    log "phase=run agent_exit=$agent_rc note=registration-gone action=exit-0"
    shutdown "$EX_GONE" "the agent registration is gone"
  fi
  if [ "$agent_rc" = 0 ]; then
    reason="the agent exited"
    [ "$once" = true ] && reason="the agent ran its one job"
  else
    reason="the agent failed with exit code $agent_rc"
  fi
  shutdown "$agent_rc" "$reason"
}

stage2() {
  started_at=${ACI_AGENT_STARTED_AT:-$(date +%s)}
  has_startup_script=${ACI_AGENT_STARTUP_SCRIPT:-yes}
  current_phase=setup
  unset ACI_AGENT_STAGE ACI_AGENT_STARTED_AT ACI_AGENT_STARTUP_SCRIPT

  stop_signal=TERM
  trap 'on_signal TERM' TERM
  trap 'on_signal INT' INT
  trap 'on_signal HUP' HUP
  trap 'on_lifetime' USR1
  trap 'on_registration_gone' USR2

  gone_marker=
  validate
  # Names the agent must never report as capabilities (it reads VSO_AGENT_IGNORE).
  VSO_AGENT_IGNORE="${VSO_AGENT_IGNORE:+$VSO_AGENT_IGNORE,}AZP_TOKEN,AZP_TOKEN_FILE,AZP_CLIENT_SECRET,AZP_STARTUP_SCRIPT,VSTS_AGENT_INPUT_TOKEN,VSTS_AGENT_INPUT_CLIENTSECRET"
  export VSO_AGENT_IGNORE
  if [ "$(id -u)" = 0 ]; then
    AGENT_ALLOW_RUNASROOT=1
    export AGENT_ALLOW_RUNASROOT
  fi
  if [ "$mode" = standby ]; then
    # Nothing of a run is known yet: the claim brings the agent, its lifetime and once.
    phase setup mode=standby container="$container_name" configmap="$configmap_dir" home="$azp_home"
  elif [ "$mode" = identity ]; then
    # AZP_URL, AZP_POOL and AZP_AGENT_NAME only inform here: the agent's files say where it connects.
    phase setup mode=identity url="${url:-none}" pool="$pool" agent="$agent_name" once="$once" \
      expires_at="${expires_at:-none}" lifetime_s="$lifetime_seconds" home="$azp_home"
  else
    phase setup url="$url" pool="$pool" agent="$agent_name" auth="$auth" once="$once" \
      max_lifetime_s="$lifetime_seconds" home="$azp_home"
  fi
  # A standby container waits in its pool for as long as the pool keeps it; its lifetime starts
  # with the claim.
  [ "$mode" = standby ] || start_lifetime_timer

  discard_used_agent
  if [ "$mode" = standby ]; then
    install_dependencies 4<&-
    # The key first: the task can register the agent while the package is still coming.
    make_agent_key 4<&-
    download_given_package 4<&-
    startup_script_child
    write_key_params
    prepare_claim
    await_claim
    claim_identity
    start_lifetime_timer
  elif [ "$mode" = identity ]; then
    # Nothing but the startup script's child ever reads descriptor 4.
    install_dependencies 4<&-
    download_given_package 4<&-
    startup_script_child
    install_identity
  else
    # Installers (apt-get and its package scripts) run without the secret's descriptors.
    install_dependencies 3<&- 4<&-
    configure_with_secret &
    exec 3<&- 4<&-
    wait_child $!
    [ "$child_rc" = 0 ] || shutdown "$child_rc" "the agent was not configured (see the error above)"
  fi
  run_agent
}

main() {
  if [ "${ACI_AGENT_STAGE:-}" = 2 ] && [ -z "${AZP_TOKEN+x}${AZP_CLIENT_SECRET+x}${AZP_TOKEN_FILE+x}${AZP_STARTUP_SCRIPT+x}" ]; then
    stage2
  else
    stage1 "$@"
  fi
}

main "$@"; exit $?
