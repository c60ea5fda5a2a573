# Stand-in of the LeRobot ACT servers (sourced by uv): runbook python -m positronic.vendors.lerobot.server,
# current python -m positronic.vendors.lerobot_0_3_3.server.
# Checkpoints live under <checkpoints_dir>/checkpoints/; an id is the EXACT dir name (050000).
. "$RT_DIR/rt-standin-serve.sh"
if [ "$RT_ERA" = runbook ]; then
  CFN_REQ=checkpoints_dir
  cfn_parse "checkpoints_dir checkpoint port host policy_factory observation_encoder action_decoder" "$@"
  need checkpoints_dir
  root=$(slash "$(opt checkpoints_dir)") wanted=$(opt checkpoint None) host=$(opt host 0.0.0.0) port=$(opt port 8000)
  int_arg port "$port"
else
  pipelines="serve ee joints ee_traj joints_traj joints_ik joints_ik_sim ee_flip" presets="phail sim_stack demo"
  keys="pipeline.source.model_type"
  cfn_command "$pipelines $presets" "$@"; shift; CFN_FN=serve CFN_REQ=pipeline.source.checkpoints_dir
  cfn_parse "$SERVER_KEYS $keys pipeline.source.checkpoints_dir pipeline.source.checkpoint pipeline.source.device
    pipeline.codec pipeline.codec.*" "$@"
  oneof "$CMD" "$pipelines" || has pipeline.source.checkpoints_dir ||
    RT_EXIT=2 die "preset $CMD reads checkpoints from upstream storage the sandbox cannot reach; pass --pipeline.source.checkpoints_dir"
  has pipeline.source.checkpoints_dir || py_raise TypeError "lerobot() missing 1 required positional argument: 'checkpoints_dir'"
  server_common
  root=$(slash "$(opt pipeline.source.checkpoints_dir)") wanted=$(opt pipeline.source.checkpoint None)
fi
ckpts="${root}checkpoints/"
if [ "$wanted" != None ]; then checkpoint=$(ckpt_exact "$ckpts" "" "$wanted") || exit $?
else checkpoint=$(ckpt_latest "$ckpts" "") || exit $?; fi
ckpt_load "$ckpts" "$checkpoint"
echo "Loaded $checkpoint from $ckpts; serving on port $port"
serve_forever "$host" "$port" "{\"models\": $(ckpt_ids "$ckpts" "" 1)}"
