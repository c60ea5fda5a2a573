# Stand-in of python -m positronic.vendors.openpi.stats (same CLI in both eras, sourced by uv):
# reads a converted dataset, writes <output_path>/assets/<config_name>/lerobot/norm_stats.json (where openpi's
# compute_norm_stats.py writes them, under the dataset's repo id `lerobot`) and run_metadata.
CFN_REQ="input_path output_path"
cfn_parse "input_path output_path config_name" "$@"
need input_path output_path
in=$(slash "$(opt input_path)") out=$(slash "$(opt output_path)") config=$(opt config_name pi05_positronic_lowmem)
s3_exists "${in}meta/info.json" || RT_EXIT=2 die "no dataset at $in (meta/info.json missing)"
echo "Computing norm stats for $config over $in"
i=0; while [ $i -lt 3 ]; do i=$((i + 1)); tick; progress $i 3; done
s3_put "${out}assets/$config/lerobot/norm_stats.json" "{\"norm_stats\": {\"state\": {\"mean\": [0.0], \"std\": [1.0]}}, \"source\": \"$in\", \"config_name\": \"$config\"}"
metadata "$out"
echo "Stats finished: ${out}assets/"
