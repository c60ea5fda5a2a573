# The training loop shared by the trainer stand-ins (sourced after the caller checked the
# dataset and set steps, save, resume, ckpt_dir, ckpt_prefix and ckpt_name()). Prints tqdm
# lines and saves a checkpoint every `save` steps; with --resume it continues after the last.
start=0 meta=${meta_prefix:-run_metadata}
if [ "$resume" = 1 ]; then
  last=$(ckpt_list "$ckpt_dir" "$ckpt_prefix" | tail -n 1)
  [ -z "$last" ] && [ -n "$resume_needs_ckpt" ] && py_raise ValueError "No checkpoints found in $ckpt_dir"
  start=${last#"$ckpt_prefix"}; start=$(( ${start:-0} + 0 )); echo "Resuming from step $start"
fi
[ "$start" -ge "$steps" ] && { echo "Training already complete at step $start"; exit 0; }
echo "Training $PROG: steps=$steps save_steps=$save input=$in output=$ckpt_dir"
step=$start
while [ "$step" -lt "$steps" ]; do
  step=$((step + save)); [ "$step" -gt "$steps" ] && step=$steps
  tick; progress "$step" "$steps"
  s3_put "$ckpt_dir$(ckpt_name "$step")/config.json" "{\"step\": $step}"
done
metadata "${meta_dir:-$ckpt_dir}" "$meta"
echo "Training finished: $steps steps, checkpoints in $ckpt_dir"
