# Stand-in of python -m positronic.vendors.gr00t.train (sourced by uv): checkpoints land in
# <output_path>/<exp_name>/checkpoint-<step>/, run_metadata (resume_metadata with --resume) beside them.
CFN_REQ="input_path output_path exp_name"
keys="input_path output_path exp_name modality_config num_train_steps groot_venv_path learning_rate save_steps resume num_workers"
modalities="ee ee_q ee_rot6d ee_rot6d_rel ee_rot6d_q ee_rot6d_q_rel"
[ "$RT_ERA" = current ] && { keys="$keys keep_optimizers_for_last_n"; modalities="$modalities joints"; }
cfn_parse "$keys" "$@"
need input_path output_path exp_name
in=$(slash "$(opt input_path)") out=$(slash "$(opt output_path)") exp=$(opt exp_name)
modality=$(opt modality_config ee)
# MODALITY_CONFIGS.get(name, name): an unknown name is taken as a path, which launch_finetune cannot open
oneof "$modality" "$modalities" || py_raise FileNotFoundError "[Errno 2] No such file or directory: '$modality'"
for k in num_train_steps save_steps num_workers keep_optimizers_for_last_n; do
  v=$(opt $k None); [ "$v" = None ] || int_arg $k "$v"
done
steps=$(opt num_train_steps None) save=$(opt save_steps None)
if [ "$save" = None ]; then
  # current era: max(num_train_steps // 20, 2000) when steps are given; else launch_finetune's default
  if [ "$RT_ERA" = current ] && [ "$steps" != None ]; then save=$((steps / 20)); [ $save -lt 2000 ] && save=2000; else save=2000; fi
fi
[ "$steps" = None ] && steps=20000
[ "$save" -gt 0 ] || py_raise ValueError "save_steps must be positive, got $save"
resume=0 meta_prefix=run_metadata
has resume && truthy "$(opt resume)" && { resume=1 meta_prefix=resume_metadata; warn_string_bool resume "$(opt resume)"; }

info=$(s3_get "${in}meta/info.json")
[ -n "$info" ] || RT_EXIT=2 die "no dataset at $in (meta/info.json missing)"
# Like the real trainer, a joint-feedback modality needs joints in the dataset: found only at run time.
case $modality in *_q|*_q_rel|joints)
  observation=$(echo "$info" | sed -n 's/.*"observation": *"\([^"]*\)".*/\1/p')
  # a dataset the real converter wrote names its features instead: joint_position when joints are observed
  [ -n "$observation" ] || case $info in *'"joint_position"'*) observation=joints ;; esac
  case $observation in *joints*|*_q|*eeq*) ;; *)
    RT_EXIT=3 die "modality $modality needs joint observations; dataset at $in has ${observation:-none}" ;;
  esac ;;
esac
# upstream's own line before launch_finetune (vendors/gr00t/train.py): the command and its whole environment, secrets too
printf 'Running command: `%s`\n with env: {' "/.venv/bin/python gr00t/experiment/launch_finetune.py --output_dir $out$exp"; env | while IFS='=' read -r k v; do printf "'%s': '%s', " "$k" "$v"; done; echo '}'
ckpt_dir="$out$exp/" ckpt_prefix=checkpoint-
ckpt_name() { echo "checkpoint-$1"; }
. "$RT_DIR/rt-standin-train.sh"
