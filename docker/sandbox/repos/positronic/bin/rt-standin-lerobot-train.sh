# Stand-in of the LeRobot trainers (sourced by uv):
#   runbook: positronic-train (ACT, lerobot 0.3.3): --dataset_root --run_name --output_dir
#   current: python -m positronic.vendors.lerobot_0_3_3.train (ACT)
# Checkpoints: <output_dir>/<run>/checkpoints/<zero-padded step>/pretrained_model/config.json.
# Extra flags go to lerobot's TrainPipelineConfig (draccus), which rejects unknown fields itself.
cfg_keys="resume seed num_workers batch_size steps eval_freq log_freq save_checkpoint save_freq job_name
  use_policy_training_preset policy policy.* dataset.* optimizer.* scheduler.* eval.* wandb.* env.*"
case $PROG in
  positronic-train) CFN_FN=train CFN_REQ="dataset_root run_name output_dir"
    keys="dataset_root run_name output_dir" input_key=dataset_root exp_key=run_name default_steps=100000 ;;
  *) CFN_FN=train CFN_REQ="input_path exp_name output_dir"
    keys="input_path exp_name output_dir codec num_train_steps backbone" input_key=input_path exp_key=exp_name default_steps=100000 ;;
esac
# configuronic accepts any **cfg_kwargs; lerobot's parser then refuses what it does not know
CFN_ALLOWED="$keys $cfg_keys"
for a in "$@"; do case $a in --help) ;; --*)
  k=${a#--}; k=${k%%=*}
  if ! cfn_allowed "$k" && ! cfn_allowed "${k#no}"; then
    echo "usage: lerobot_train.py [-h] [--config_path str] [--dataset str] [--policy str] [--steps int] ..." >&2
    echo "lerobot_train.py: error: unrecognized arguments: $a" >&2; exit 2
  fi ;;
esac; done
cfn_parse "$keys $cfg_keys" "$@"
need $CFN_REQ
in=$(slash "$(opt $input_key)") out=$(slash "$(opt output_dir)") exp=$(opt $exp_key)
if [ "$PROG" != positronic-train ]; then
  codecs="ee phail_v1 joints ee_traj joints_traj joints_ik joints_ik_sim" ns=lerobot_0_3_3
  codec=$(opt codec "@positronic.vendors.$ns.codecs.ee")
  case $codec in @positronic.vendors.$ns.codecs.*|.*) oneof "${codec##*.}" "$codecs" ;; *) false ;; esac ||
    py_raise ImportError "Module not found for path: ${codec#@}"
  backbone=$(opt backbone None)
  oneof "$backbone" "None resnet18 resnet50 clip dinov2 dinov3" || py_raise ValueError "Unknown backbone: '$backbone'"
fi
steps=$(opt num_train_steps None); [ "$steps" = None ] && steps=$(opt steps $default_steps)
int_arg steps "$steps"
save=$(opt save_freq 20000); int_arg save_freq "$save"
for k in batch_size num_workers seed; do has $k && int_arg $k "$(opt $k)"; done
resume=0; has resume && truthy "$(opt resume)" && { resume=1; warn_string_bool resume "$(opt resume)"; }
resume_needs_ckpt=1  # the wrapper takes the highest numeric dir and fails when there is none

s3_exists "${in}meta/info.json" || RT_EXIT=2 die "no dataset at $in (meta/info.json missing)"
ckpt_dir="$out$exp/checkpoints/" ckpt_prefix=
width=${#steps}; [ "$width" -lt 6 ] && width=6  # lerobot pads step dirs to max(6, len(str(steps)))
ckpt_name() { printf '%0*d/pretrained_model' "$width" "$1"; }
meta_dir="$out$exp/"
. "$RT_DIR/rt-standin-train.sh"
