# Stand-in of python -m positronic.vendors.openpi.server (sourced by uv). Runbook era: openpi's own
# websocket server upstream, no subcommand; current era: the common server, subcommand required.
. "$RT_DIR/rt-standin-serve.sh"
if [ "$RT_ERA" = runbook ]; then
  CFN_REQ=checkpoints_dir
  cfn_parse "checkpoints_dir checkpoint config_name port extra_args" "$@"
  need checkpoints_dir
  has port && [ "$(opt port)" != None ] && py_raise subprocess.CalledProcessError "scripts/serve_policy.py (tyro 0.9.22): Unrecognized or misplaced options: --port"
  ckpts=$(slash "$(opt checkpoints_dir)") host=0.0.0.0 port=$(opt port None)
  [ "$port" = None ] && port=8000; int_arg port "$port"  # serve_policy.py's own default
  case $(opt extra_args '[]') in \[*\]) ;; *) py_raise TypeError 'can only concatenate list (not "str") to list' ;; esac
  # str(checkpoint) is appended to checkpoints_dir: the step dir name as is
  if has checkpoint && [ "$(opt checkpoint)" != None ]; then checkpoint=$(ckpt_exact "$ckpts" "" "$(opt checkpoint)") || exit $?
  else checkpoint=$(ckpt_latest "$ckpts" "") || exit $?; fi
  ckpt_load "$ckpts" "$checkpoint"
  body=$(printf '{"models": [{"id": "%s", "kind": "openpi", "modality": "openpi", "checkpoints_dir": "%s"}]}' \
    "$checkpoint" "$ckpts")
else
  pipelines="serve ee ee_joints ee_traj ee_joints_traj joints_traj ee_flip_grip"
  cfn_command "$pipelines phail sim_stack droid droid_jointpos libero" "$@"; shift; CFN_FN=serve
  CFN_REQ="pipeline.source.checkpoints_dir pipeline.ee_frame"
  cfn_parse "$SERVER_KEYS pipeline.ee_frame pipeline.source.checkpoints_dir pipeline.source.config_name
    pipeline.source.checkpoint pipeline.source.openpi_ws_port pipeline.codec pipeline.codec.*" "$@"
  oneof "$CMD" "$pipelines" || has pipeline.source.checkpoints_dir ||
    RT_EXIT=2 die "preset $CMD reads checkpoints from upstream storage the sandbox cannot reach; pass --pipeline.source.checkpoints_dir"
  # no default frame on purpose: ee pipelines must say which frame the checkpoint was trained in
  case $CMD in joints_traj|phail|sim_stack|droid|droid_jointpos|libero) ;; *)
    has pipeline.ee_frame || py_raise TypeError "$CMD() missing 1 required positional argument: 'ee_frame'" ;; esac
  has pipeline.source.checkpoints_dir || py_raise TypeError "openpi() missing 1 required positional argument: 'checkpoints_dir'"
  server_common
  ws=$(opt pipeline.source.openpi_ws_port 8001); int_arg pipeline.source.openpi_ws_port "$ws"
  [ "$ws" != "$port" ] || RT_EXIT=2 die "openpi_ws_port $ws collides with --port $port (address already in use)"
  ckpts=$(slash "$(opt pipeline.source.checkpoints_dir)") wanted=$(opt pipeline.source.checkpoint None)
  # a configured checkpoint is used verbatim as the directory name
  if [ "$wanted" != None ]; then checkpoint=$(ckpt_exact "$ckpts" "" "$wanted") || exit $?
  else checkpoint=$(ckpt_latest "$ckpts" "") || exit $?; fi
  ckpt_load "$ckpts" "$checkpoint"
  body="{\"models\": $(ckpt_ids "$ckpts" "")}"
fi
echo "Loaded $checkpoint from $ckpts; serving on port $port"
serve_forever "$host" "$port" "$body"
