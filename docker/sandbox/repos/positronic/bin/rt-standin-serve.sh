# Checkpoint resolution and the HTTP loop shared by the server stand-ins (sourced; defines
# functions only). Rules of positronic/utils/checkpoints.py: latest = highest PREFIX<digits> child.

# ckpt_latest DIR PREFIX -> the latest checkpoint's directory name, or exit 2
ckpt_latest() {
  c=$(ckpt_list "$1" "$2" | tail -n 1)
  [ -n "$c" ] || RT_EXIT=2 die "no checkpoint under $1 (ValueError: no ${2}<step> directories)"
  echo "$c"
}

# ckpt_exact DIR NAME -> NAME when it is one of the checkpoint directories, or exit 2
ckpt_exact() {
  ckpt_list "$1" "$2" | grep -qxF "$3" ||
    RT_EXIT=2 die "checkpoint '$3' not found under $1; available: $(ckpt_list "$1" "$2" | tr '\n' ' ')"
  echo "$3"
}

# ckpt_numeric DIR PREFIX N -> the directory whose step equals N numerically (5000 finds 005000)
ckpt_numeric() {
  is_int "$3" || RT_EXIT=2 die "checkpoint '$3' is not a step number (pass the step, e.g. 5000)"
  c=$(ckpt_list "$1" "$2" | awk -v p="$2" -v n="$3" '{ if (substr($0, length(p) + 1) + 0 == n + 0) print }' | tail -n 1)
  [ -n "$c" ] || RT_EXIT=2 die "checkpoint $3 not found under $1; available: $(ckpt_list "$1" "$2" | tr '\n' ' ')"
  echo "$c"
}

# ckpt_ids DIR PREFIX -> JSON list of the ids a client may ask for (unpadded steps unless exact=1)
ckpt_ids() {
  ckpt_list "$1" "$2" | awk -v p="$2" -v exact="${3:-0}" 'BEGIN { printf "[" }
    { id = exact ? $0 : substr($0, length(p) + 1) + 0; printf "%s\"%s\"", (NR > 1 ? ", " : ""), id }
    END { printf "]" }'
}

# ckpt_load DIR NAME: a real server loads the weights and fails on a broken upload
ckpt_load() {
  bucket=${1#s3://}; bucket=${bucket%%/*}
  config=$(s3_keys "$1$2/" | grep 'config.json$' | head -n 1)
  case $(s3_get "s3://$bucket/$config") in
    "{"*) ;; *) RT_EXIT=2 die "checkpoint $2 under $1 is unreadable (config.json is not JSON)" ;;
  esac
}

# The common inference server (current era) refuses an empty or non-printable AUTH_TOKEN
check_auth_token() {
  [ -n "${AUTH_TOKEN+set}" ] || return 0
  case $AUTH_TOKEN in ''|*[!\!-~]*) die "AUTH_TOKEN must be non-empty printable ASCII without spaces" ;; esac
}

# serve_forever HOST PORT BODY: answer GET /api/v1/models with BODY until SIGTERM
# (busybox httpd; idle_timeout_min, if set, ends the server since no session ever comes here)
serve_forever() {
  www=/tmp/rt-www-$$; mkdir -p "$www/api/v1"; printf '%s\n' "$3" > "$www/api/v1/models"
  if [ "$RT_ERA" = current ]; then
    echo "INFO:     Started server process [$$]"; echo "INFO:     Uvicorn running on http://$1:$2 (Press CTRL+C to quit)"
  fi
  if [ -n "${AUTH_TOKEN-}" ]; then  # upstream: 401 unless `Authorization: Bearer <token>`
    RT_MODELS_FILE="$www/api/v1/models" nc -ll -p "$2" -e "$(command -v rt-standin-authed.sh)" & pid=$!  # all addresses
  else
    httpd -f -v -p "$1:$2" -h "$www" & pid=$!
  fi
  trap 'echo "Shutting down"; kill $pid 2>/dev/null; exit 0' TERM INT
  idle=${idle_min:-None}
  if [ "$idle" != None ]; then
    ( sleep $((idle * 60)); echo "Idle for $idle min with no session: shutting down"; kill $pid ) & idler=$!
  fi
  wait $pid; rc=$?
  [ -n "${idler-}" ] && kill "$idler" 2>/dev/null
  [ "$idle" != None ] && [ $rc -ne 0 ] && exit 0
  RT_EXIT=2 die "httpd on $1:$2 exited ($rc): port in use?"
}

# The flags every current-era server takes (positronic/offboard/server.py `serve`)
SERVER_KEYS="host port recording_dir idle_timeout_min"
server_common() {
  host=$(opt host 0.0.0.0) port=$(opt port 8000) idle_min=$(opt idle_timeout_min None)
  int_arg port "$port"; [ "$idle_min" = None ] || int_arg idle_timeout_min "$idle_min"
  check_auth_token
}
