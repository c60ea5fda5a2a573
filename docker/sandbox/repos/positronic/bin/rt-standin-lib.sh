# Shared helpers of the sandbox stand-in programs (busybox sh). Sourced, not run.
# S3 goes straight to the sandbox's moto server ($AWS_ENDPOINT_URL), which takes unsigned requests.

# As PID 1 a shell ignores SIGTERM unless it traps it; jobs.stop must stop a stand-in promptly.
trap 'echo "Error: stopped by SIGTERM" >&2; exit 143' TERM

die() { echo "Error: $*" >&2; exit "${RT_EXIT:-1}"; }

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

metadata() {  # run_metadata_<ts>.yaml beside the outputs, as every real run writes
  s3_put "$(slash "$1")run_metadata_$(date +%Y%m%d%H%M%S).yaml" "program: $PROG
args: $ARGS
host: $(hostname)
"
}
