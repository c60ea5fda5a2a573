# The training loop shared by the trainer stand-ins (sourced after the caller set
# in, out, steps, save, resume and ckpt_dir/ckpt_name()). Prints tqdm lines and
# saves a checkpoint every `save` steps; with --resume it continues after the last one.
[ -n "$in" ] && [ -n "$out" ] || die "--input_path and --output_path are required"
s3_exists "${in}meta/info.json" || RT_EXIT=2 die "no dataset at $in (meta/info.json missing)"
start=0
if [ "$resume" = 1 ]; then
  start=$(s3_keys "$ckpt_dir" | sed -n "s#^.*/$ckpt_pattern/.*#\1#p" | sort -n | tail -n 1)
  start=${start:-0}; echo "Resuming from step $start"
fi
[ "$start" -ge "$steps" ] && { echo "Training already complete at step $start"; exit 0; }
echo "Training $PROG: steps=$steps save_steps=$save input=$in output=$ckpt_dir"
step=$start
while [ "$step" -lt "$steps" ]; do
  step=$((step + save)); [ "$step" -gt "$steps" ] && step=$steps
  tick; progress "$step" "$steps"
  s3_put "$ckpt_dir$(ckpt_name "$step")/config.json" "{\"step\": $step}"
done
metadata "$ckpt_dir"
echo "Training finished: $steps steps, checkpoints in $ckpt_dir"
