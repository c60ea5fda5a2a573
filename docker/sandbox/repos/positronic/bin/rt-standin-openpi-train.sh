# Stand-in of python -m positronic.vendors.openpi.train (same CLI in both eras, sourced by uv):
# checkpoints land in <output_path>/<config_name>/<exp_name>/<step>/ (plain integer step dirs).
CFN_REQ="input_path stats_path output_path exp_name"
cfn_parse "input_path stats_path output_path exp_name config_name resume num_train_steps extra_args" "$@"
need input_path stats_path output_path exp_name
in=$(slash "$(opt input_path)") out=$(slash "$(opt output_path)") stats=$(slash "$(opt stats_path)")
exp=$(opt exp_name) config=$(opt config_name pi05_positronic_lowmem)
steps=$(opt num_train_steps 3000); [ "$steps" = None ] && steps=3000; int_arg num_train_steps "$steps"
save=1000  # openpi's save_interval
resume=0; has resume && truthy "$(opt resume)" && { resume=1; warn_string_bool resume "$(opt resume)"; }
case $(opt extra_args '[]') in  # train.py does cmd + extra_args: anything but a list raises
  \[*\]) ;; *) py_raise TypeError 'can only concatenate list (not "str") to list' ;;
esac
s3_exists "${in}meta/info.json" || RT_EXIT=2 die "no dataset at $in (meta/info.json missing)"
# openpi reads <assets_base_dir>/<config>/<repo_id>/norm_stats.json (repo id `lerobot`, as positronic links it)
s3_exists "${stats}$config/lerobot/norm_stats.json" || RT_EXIT=2 die "no norm stats at $stats$config/lerobot/ (run openpi-stats first)"
ckpt_dir="$out$config/$exp/" ckpt_prefix=
ckpt_name() { echo "$1"; }
. "$RT_DIR/rt-standin-train.sh"
