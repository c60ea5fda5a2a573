# Stand-in of positronic-server, the dataset viewer (sourced by uv): serves a page on --port
# (5000 in the runbook era, 8400 now) until SIGTERM.
. "$RT_DIR/rt-standin-serve.sh"
CFN_FN=main
cfn_parse "dataset dataset.* port host" "$@"
if [ "$RT_ERA" = runbook ]; then port=$(opt port 5000); else port=$(opt port 8400); fi
int_arg port "$port"; host=$(opt host 0.0.0.0)
echo "Serving dataset $(opt dataset @positronic.cfg.dataset.local_all) on port $port"
serve_forever "$host" "$port" '{"models": []}'
