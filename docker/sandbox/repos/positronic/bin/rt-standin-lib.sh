# Shared helpers of the sandbox stand-in programs (busybox sh). Sourced, not run.
# S3 goes straight to the sandbox's moto server ($AWS_ENDPOINT_URL), which takes unsigned requests.

# As PID 1 a shell ignores SIGTERM unless it traps it; jobs.stop must stop a stand-in promptly.
trap 'echo "Error: stopped by SIGTERM" >&2; exit 143' TERM

die() { echo "Error: $*" >&2; exit "${RT_EXIT:-1}"; }

# An uncaught Python exception: its last traceback line on stderr, exit 1.
py_raise() { echo "Traceback (most recent call last):" >&2; echo "$1: $2" >&2; exit 1; }

# --- configuronic / python-fire command lines --------------------------------------------------
# Every upstream program is `cfn.cli(...)`; these reproduce what it accepts and how it fails
# (measured rules: ENTRYPOINTS.md §2). All checks run before any S3 call.

# pylist "a b" -> ['a', 'b'] (how the real errors print lists)
pylist() { printf '['; sep=; for x in $1; do printf "%s'%s'" "$sep" "$x"; sep=', '; done; printf ']'; }

# cfn_command "convert append" "$@": the command word configuronic needs first. Sets CMD.
cfn_command() {
  cmds=$1; shift
  if [ $# -eq 0 ] || { [ "$1" = --help ] && [ $# -eq 1 ]; }; then  # bare group: list commands, exit 0
    echo "Commands:"; for c in $cmds; do echo "python $PROG $c"; done; exit 0
  fi
  for c in $cmds; do [ "$1" = "$c" ] && { CMD=$c; return 0; }; done
  py_raise ValueError "Command '$1' not found. Available commands: $(pylist "$cmds")"
}

cfn_allowed() { for pat in $CFN_ALLOWED; do case $1 in $pat) return 0 ;; esac; done; return 1; }

# cfn_parse "key key.* ..." "$@": fire's flag syntax (--k=v, --k v, bare --k = True, --nok = False)
# into shell variables O_<key, dots as __>. Keys outside the list fail like the real call would.
cfn_parse() {
  CFN_ALLOWED=$1; shift; CFN_KEYS=
  while [ $# -gt 0 ]; do
    a=$1; shift
    case $a in
      --help) cfn_help ;;
      --*=*) k=${a%%=*}; k=${k#--}; v=${a#*=} ;;
      --*) k=${a#--}; v=True
           case ${1-} in ''|-*) ;; *) [ $# -gt 0 ] && { v=$1; shift; } ;; esac
           if ! cfn_allowed "$k"; then case $k in no?*) cfn_allowed "${k#no}" && { k=${k#no}; v=False; } ;; esac; fi ;;
      *) cfn_help ;;  # fire binds a stray word to `help=`: the real program prints its help, runs nothing
    esac
    case $k in *[!A-Za-z0-9_.]*|''|.*|*.|*..*) cfn_unknown "$k" "$v" ;; esac
    cfn_allowed "$k" || cfn_unknown "$k" "$v"
    eval "O_$(echo "$k" | sed 's/\./__/g')=\$v"
    CFN_KEYS="$CFN_KEYS $k"
  done
}

cfn_unknown() {
  case $1 in
    *.*) py_raise configuronic.config.ConfigError "Failed to override '$1' with value '$2'" ;;
    *) py_raise TypeError "${CFN_FN:-main}() got an unexpected keyword argument '$1'" ;;
  esac
}

cfn_help() { echo "Config:"; for r in $CFN_REQ; do echo "$r: <REQUIRED>"; done; exit 0; }

has() { case " $CFN_KEYS " in *" $1 "*) return 0 ;; esac; return 1; }

# opt key [default] -> the value passed, else the default
opt() { if has "$1"; then eval "echo \"\$O_$(echo "$1" | sed 's/\./__/g')\""; else echo "${2-}"; fi; }

# need key...: REQ arguments (no default) must be passed, or the call raises TypeError
need() {
  miss=; n=0
  for k in "$@"; do has "$k" || { miss="$miss '$k'"; n=$((n + 1)); }; done
  [ $n -eq 0 ] && return 0
  miss=$(echo "$miss" | sed "s/^ //; s/ '\([^']*\)'\$/ and '\1'/; s/' '/', '/g")
  [ $n -eq 1 ] && py_raise TypeError "${CFN_FN:-main}() missing 1 required positional argument: $miss"
  py_raise TypeError "${CFN_FN:-main}() missing $n required positional arguments: $miss"
}

# configuronic booleans: True/False are bools; any other text (even 'false') is a truthy string.
truthy() { case $1 in False|None|0|'') return 1 ;; esac; return 0; }
warn_string_bool() {
  case $2 in True|False) ;; *) echo "Warning: --$1=$2 is the string '$2', which is truthy: treated as True" >&2 ;; esac
}

is_int() { case $1 in ''|*[!0-9]*) return 1 ;; esac; return 0; }
int_arg() {  # int_arg key value: python would fail on int('x')
  is_int "$2" || py_raise ValueError "invalid literal for int() with base 10: '$2' (--$1)"
}

oneof() { for x in $2; do [ "$1" = "$x" ] && return 0; done; return 1; }

# --- S3 -----------------------------------------------------------------------------------------

endpoint_hostport() {
  [ -n "$AWS_ENDPOINT_URL" ] || die "AWS_ENDPOINT_URL is not set; the stand-ins only talk to the sandbox S3"
  ep=${AWS_ENDPOINT_URL#http://}; echo "${ep%%/*}"
}

# moto refuses anonymous overwrites and reads, and does not check signatures: name a key, sign nothing.
auth_header() {
  echo "Authorization: AWS4-HMAC-SHA256 Credential=${AWS_ACCESS_KEY_ID:-standin}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
}

# s3 URL -> "bucket/key" path
s3_path() { p=${1#s3://}; echo "$p"; }

# s3_put s3://bucket/key "body"
s3_put() {
  hp=$(endpoint_hostport); path=$(s3_path "$1"); body=$2
  reply=$(printf 'PUT /%s HTTP/1.1\r\nHost: %s\r\n%s\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$path" "$hp" "$(auth_header)" "${#body}" "$body" | nc "${hp%:*}" "${hp##*:}" 2>&1)
  case $reply in "HTTP/1.1 200"*|"HTTP/1.0 200"*) return 0 ;; esac
  die "S3 PUT $1 failed: $(echo "$reply" | head -n 1)"
}

# s3_keys s3://bucket/prefix -> one key per line (without the bucket)
s3_keys() {
  hp=$(endpoint_hostport); path=$(s3_path "$1"); bucket=${path%%/*}; prefix=${path#*/}
  [ "$bucket" = "$path" ] && prefix=""
  wget -qO- --header "$(auth_header)" "http://$hp/$bucket?list-type=2&max-keys=1000&prefix=$prefix" 2>/dev/null \
    | sed 's/<Key>/\n<Key>/g' | sed -n 's/^<Key>\([^<]*\)<\/Key>.*/\1/p'
}

# s3_get s3://bucket/key -> the object's body on stdout
s3_get() { hp=$(endpoint_hostport); wget -qO- --header "$(auth_header)" "http://$hp/$(s3_path "$1")" 2>/dev/null; }

s3_exists() { [ -n "$(s3_keys "$1" | head -n 1)" ]; }

# s3_children s3://b/dir/ -> names of its direct "subdirectories" (inferred from keys, like pos3.ls)
s3_children() {
  path=$(s3_path "$1"); prefix=${path#*/}; [ "$prefix" = "$path" ] && prefix=""
  s3_keys "$1" | awk -v p="$prefix" '(p == "" || index($0, p) == 1) { r = substr($0, length(p) + 1)
    i = index(r, "/"); if (i > 1) print substr(r, 1, i - 1) }' | sort -u
}

# ckpt_list s3://dir/ PREFIX -> children named PREFIX<digits>, numeric order (utils/checkpoints.py)
ckpt_list() {
  s3_children "$1" | awk -v p="$2" '(p == "" || index($0, p) == 1) { n = substr($0, length(p) + 1)
    if (n ~ /^[0-9]+$/) print n + 0, $0 }' | sort -n -k1,1 | cut -d' ' -f2
}

# --- output shapes read by jobs.progress / jobs.errors -------------------------------------------

# tqdm-shaped progress line: progress step total
progress() {
  pct=$(( $1 * 100 / $2 )); done_w=$(( pct / 10 ))
  bar=$(printf '%*s' "$done_w" '' | tr ' ' '#'); pad=$(printf '%*s' $(( 10 - done_w )) '')
  left=$(( ($2 - $1) / 1000 ))
  printf '%3d%%|%s%s| %d/%d [00:%02d<00:%02d, 5.54it/s]\r' "$pct" "$bar" "$pad" "$1" "$2" "$SECONDS_SPENT" "$left"
  [ "$1" -ge "$2" ] && printf '\n'
  return 0
}

tick() { sleep "${RT_STANDIN_TICK:-0.3}"; SECONDS_SPENT=$(( ${SECONDS_SPENT:-0} + 1 )); }

slash() { case $1 in */) echo "$1" ;; *) echo "$1/" ;; esac; }

# metadata DIR [PREFIX]: <prefix>_<UTC %Y%m%d_%H%M%S>.yaml beside the outputs, as save_run_metadata writes
metadata() {
  ts=$(date -u +%Y%m%d_%H%M%S)
  s3_put "$(slash "$1")${2:-run_metadata}_$ts.yaml" "timestamp_iso: $(date -u +%Y-%m-%dT%H:%M:%SZ)
command: $PROG $ARGS
python: ${RT_PYTHON:-3.11}
positronic_version: $RT_VERSION
environment:
  docker: true
  host: $(hostname)
"
}
