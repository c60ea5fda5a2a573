# The server loop shared by the server stand-ins (sourced after the caller set
# ckpts, port, checkpoint, kind, modality and latest_pattern): find the checkpoint
# in S3, then answer GET /api/v1/models on the port with busybox httpd.
[ -n "$ckpts" ] || die "--checkpoints_dir is required"
if [ -z "$checkpoint" ]; then
  checkpoint=$(s3_keys "$ckpts" | sed -n "s#^.*/$latest_pattern/.*#\1#p" \
    | awk -F- '{print $NF" "$0}' | sort -n | tail -n 1 | cut -d' ' -f2)
fi
[ -n "$checkpoint" ] || RT_EXIT=2 die "no checkpoint under $ckpts"
bucket=${ckpts#s3://}; bucket=${bucket%%/*}
config=$(s3_keys "$ckpts" | grep "/$checkpoint/" | grep 'config.json$' | head -n 1)
case $(s3_get "s3://$bucket/$config") in  # a real server loads the weights and fails on a broken upload
  "{"*) ;; *) RT_EXIT=2 die "checkpoint $checkpoint under $ckpts is unreadable (config.json is not JSON)" ;;
esac
www=/tmp/www; mkdir -p "$www/api/v1"
printf '{"models": [{"id": "%s", "kind": "%s", "modality": "%s", "checkpoints_dir": "%s"}]}\n' \
  "$checkpoint" "$kind" "$modality" "$ckpts" > "$www/api/v1/models"
echo "Loaded $checkpoint from $ckpts; serving on port $port"
# As PID 1 a shell ignores SIGTERM unless it traps it: stop promptly, like a real server.
httpd -f -v -p "0.0.0.0:$port" -h "$www" & pid=$!
trap 'echo "Shutting down"; kill $pid; exit 0' TERM INT
wait $pid
