# Stand-in of python -m positronic.vendors.gr00t.server (sourced by uv). The runbook era speaks
# ZeroMQ on 9000 upstream; here every server answers HTTP GET /api/v1/models so jobs can be probed.
. "$RT_DIR/rt-standin-serve.sh"
if [ "$RT_ERA" = runbook ]; then
  CFN_REQ=checkpoints_dir
  cfn_parse "checkpoints_dir checkpoint port groot_venv_path modality_config" "$@"
  need checkpoints_dir
  ckpts=$(slash "$(opt checkpoints_dir)") modality=$(opt modality_config ee) host=0.0.0.0 port=$(opt port 9000)
  int_arg port "$port"
  oneof "$modality" "ee ee_q ee_rot6d ee_rot6d_rel ee_rot6d_q ee_rot6d_q_rel" ||
    py_raise FileNotFoundError "[Errno 2] No such file or directory: '$modality'"
  # the code prepends `checkpoint-`: --checkpoint=checkpoint-4000 looks for checkpoint-checkpoint-4000
  if has checkpoint && [ "$(opt checkpoint)" != None ]; then
    checkpoint=$(ckpt_exact "$ckpts" checkpoint- "checkpoint-$(opt checkpoint)") || exit $?
  else checkpoint=$(ckpt_latest "$ckpts" checkpoint-) || exit $?; fi
  ckpt_load "$ckpts" "$checkpoint"
  body=$(printf '{"models": [{"id": "%s", "kind": "groot", "modality": "%s", "checkpoints_dir": "%s"}]}' \
    "$checkpoint" "$modality" "$ckpts")
else
  pipelines="serve ee ee_joints ee_rot6d ee_rot6d_joints ee_rot6d_rel ee_rot6d_joints_rel"
  cfn_command "$pipelines phail sim_stack" "$@"; shift; CFN_FN=serve CFN_REQ=pipeline.source.checkpoints_dir
  cfn_parse "$SERVER_KEYS pipeline.source.checkpoints_dir pipeline.source.checkpoint pipeline.source.modality_config
    pipeline.source.groot_venv_path pipeline.source.zmq_port pipeline.source.ready_timeout pipeline.codec pipeline.codec.*" "$@"
  # presets bind checkpoints on upstream storage that the sandbox does not have
  oneof "$CMD" "$pipelines" || has pipeline.source.checkpoints_dir ||
    RT_EXIT=2 die "preset $CMD reads checkpoints from upstream storage the sandbox cannot reach; pass --pipeline.source.checkpoints_dir"
  has pipeline.source.checkpoints_dir || py_raise TypeError "groot() missing 1 required positional argument: 'checkpoints_dir'"
  server_common
  case $CMD in serve|ee) m=ee ;; ee_joints) m=ee_q ;; ee_rot6d_joints) m=ee_rot6d_q ;;
    ee_rot6d_joints_rel) m=ee_rot6d_q_rel ;; phail|sim_stack) m=ee_rot6d_q ;; *) m=$CMD ;; esac
  modality=$(opt pipeline.source.modality_config $m)
  ckpts=$(slash "$(opt pipeline.source.checkpoints_dir)") wanted=$(opt pipeline.source.checkpoint None)
  if [ "$wanted" != None ]; then checkpoint=$(ckpt_numeric "$ckpts" checkpoint- "$wanted") || exit $?
  else checkpoint=$(ckpt_latest "$ckpts" checkpoint-) || exit $?; fi
  ckpt_load "$ckpts" "$checkpoint"
  body="{\"models\": $(ckpt_ids "$ckpts" checkpoint-)}"
fi
echo "Loaded $checkpoint from $ckpts; serving on port $port"
serve_forever "$host" "$port" "$body"
