# Stand-in of the dataset converters (sourced by uv):
#   runbook: positronic-to-lerobot (positronic/training/to_lerobot.py)
#   current: python -m positronic.vendors.lerobot_0_3_3.to_lerobot
# Writes a small LeRobot dataset marker: meta/info.json (+ meta/modality.json for GR00T data), one
# data file and run_metadata_<ts>.yaml (append_metadata_<ts>.yaml for append).
CFN_FN=convert
cfn_command "convert append" "$@"; shift; CFN_FN=$CMD

if [ "$RT_ERA" = runbook ]; then
  CFN_REQ="output_dir fps"
  keys="output_dir fps dataset dataset.* task"; [ $CMD = convert ] && keys="$keys video"
  cfn_parse "$keys" "$@"
  need output_dir fps
  obs_cfgs="general eepose_grip joints_grip eepose_grip_joints eepose joints eepose_q openpi_positronic openpi_eeq
    openpi_droid groot groot_ee_absolute groot_rot6d groot_joints groot_rot6d_joints"
  act_cfgs="absolute_position groot_absolute groot groot_rot6d joint_delta"
  presets="droid_openpi_ft sim_stack_openpi_ft sim_pnp_openpi_ft full_openpi_ft droid_groot_ft sim_stack_groot_ft
    sim_pnp_groot_ft full_groot_ft"
  dataset=$(opt dataset @positronic.cfg.dataset.encoded)
  case $dataset in
    @positronic.cfg.dataset.encoded|.encoded)
      has dataset.base.path || py_raise configuronic.config.ConfigError \
        "Error instantiating \"dataset.base\": local_all() missing 1 required positional argument: 'path'" ;;
    @positronic.cfg.phail.*) oneof "${dataset#@positronic.cfg.phail.}" "$presets" ||
      py_raise ImportError "Module not found for path: ${dataset#@}" ;;
    @positronic.cfg.dataset.*) ;;
    *) py_raise ImportError "Failed to resolve $dataset (dataset configs: @positronic.cfg.dataset.*, @positronic.cfg.phail.*)" ;;
  esac
  # `.X` resolves in the module of the current default (cfg/policy/observation.py, action.py)
  obs=$(opt dataset.observation .eepose); act=$(opt dataset.action .absolute_position)
  case $obs in .*) oneof "${obs#.}" "$obs_cfgs" || py_raise ImportError \
    "Failed to resolve relative import $obs to module positronic.cfg.policy.observation${obs}" ;; esac
  case $act in .*) oneof "${act#.}" "$act_cfgs" || py_raise ImportError \
    "Failed to resolve relative import $act to module positronic.cfg.policy.action${act}" ;; esac
  fps=$(opt fps); int_arg fps "$fps"
  source=$dataset codec=
  case $dataset$obs in *groot*) gr00t=1 ;; *) gr00t=0 ;; esac
else
  CFN_REQ="output_dir dataset.dataset dataset.codec"
  keys="output_dir fps dataset dataset.* task share seed"; [ $CMD = convert ] && keys="$keys video"
  cfn_parse "$keys" "$@"
  need output_dir
  has dataset.dataset && has dataset.codec || {
    miss=; has dataset.dataset || miss=dataset; has dataset.codec || miss="${miss:+$miss' and '}codec"
    py_raise configuronic.config.ConfigError "Error instantiating \"dataset\": apply_codec() missing required argument(s): '$miss'"
  }
  lerobot_0_3_3="ee phail_v1 joints ee_traj joints_traj joints_ik joints_ik_sim"
  openpi="ee ee_joints ee_traj ee_joints_traj joints_traj joints_ik joints_ik_sim droid droid_jointpos libero phail_v1"
  gr00t="ee_quat ee_quat_joints ee_rot6d ee_rot6d_joints ee_quat_traj ee_rot6d_traj ee_quat_joints_traj
    ee_rot6d_joints_traj joints_traj ee_joints_ik ee_joints_ik_sim phail_v1"
  codec=$(opt dataset.codec); vendor=${codec#@positronic.vendors.}; vendor=${vendor%%.*}; name=${codec##*.}
  case $codec in
    @positronic.vendors.*.codecs.*) names=
      oneof "$vendor" "lerobot_0_3_3 openpi gr00t" && eval "names=\$$vendor"
      oneof "$name" "$names" || py_raise ImportError "Module not found for path: ${codec#@}" ;;
    *) py_raise ImportError "Module not found for path: ${codec#@} (codecs: @positronic.vendors.<vendor>.codecs.<name>)" ;;
  esac
  source=$(opt dataset.dataset); obs=$name act=$name
  fps=$(opt fps 15); [ "$fps" = None ] && fps=15; int_arg fps "$fps"  # None: the codec's action_fps
  # meta/modality.json comes from a codec's gr00t_modality, written by the 0_3_3 converter only
  case $module:$vendor in *lerobot_0_3_3*:gr00t) gr00t=1 ;; *) gr00t=0 ;; esac
fi

out=$(slash "$(opt output_dir)")
echo "Converting $source (observation $obs, action $act) at $fps fps -> $out"
n=5; i=0
while [ $i -lt $n ]; do i=$((i + 1)); tick; progress $i $n; done
s3_put "${out}meta/info.json" "{\"codebase_version\": \"v2.1\", \"fps\": $fps, \"source\": \"$source\", \"codec\": \"$codec\", \"observation\": \"$obs\", \"action\": \"$act\", \"total_episodes\": $n}"
[ $gr00t = 1 ] && s3_put "${out}meta/modality.json" "{\"state\": {}, \"action\": {}, \"video\": {}, \"annotation\": {}, \"source\": \"$obs\"}"
s3_put "${out}data/chunk-000/episode_000000.parquet" "stand-in episode"
if [ $CMD = append ]; then metadata "$out" append_metadata; else metadata "$out"; fi
echo "Conversion complete: $n episodes written to $out"
