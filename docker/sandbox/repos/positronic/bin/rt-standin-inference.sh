# Stand-in of positronic-inference (sourced by uv): `sim` asks the policy server for its models,
# then "simulates" for a few ticks. Headless without MUJOCO_GL=egl fails the way MuJoCo does.
CFN_FN=main
# the policy's own flags depend on which config --policy names, so find it first
policy=
prev=; for a in "$@"; do
  case $a in --policy=*) policy=${a#*=} ;; esac
  [ "$prev" = --policy ] && case $a in -*) ;; *) policy=$a ;; esac
  prev=$a
done
name=${policy#@positronic.cfg.policy.}; name=${name#policy.}; name=${name#.}

if [ "$RT_ERA" = runbook ]; then
  cfn_command "sim real sim_pnp" "$@"; shift; CFN_FN=$CMD
  keys="policy output_dir driver driver.simulation_time driver.num_iterations driver.show_gui driver.task
    camera_fps policy_fps simulate_timeout"
  case $name in
    groot_ee|groot_ee_joints|groot_ee_rot6d|groot_ee_rot6d_joints)
      keys="$keys policy.base.host policy.base.port policy.base.timeout_ms policy.base.n_action_steps" ;;
    openpi_positronic|openpi_droid) keys="$keys policy.base.host policy.base.port policy.base.n_action_steps" ;;
    remote) keys="$keys policy.host policy.port policy.resize" ;;
    act_absolute) keys="$keys policy.base.checkpoints_dir policy.base.checkpoint policy.base.n_action_steps policy.base.device" ;;
    sample) keys="$keys policy.origins policy.weights" ;;
    '') ;;
    *) py_raise ImportError "Failed to resolve relative import $policy to module positronic.cfg.policy.policy.$name" ;;
  esac
else
  cfn_command "run real sim stats" "$@"; shift; CFN_FN=run
  keys="policy output_dir charge_inference_time timing eval eval.trial_count eval.timeout eval.seed"
  case $name in
    remote|authed_remote|nebius_remote) keys="$keys policy.url policy.recording_dir policy.infer_timeout" ;;
    '') ;;
    *) py_raise ImportError "Failed to resolve relative import $policy to module positronic.cfg.policy.$name" ;;
  esac
fi
CFN_REQ=policy
cfn_parse "$keys" "$@"
case $CMD in real|stats) die "positronic-inference $CMD is not modelled by the sandbox (no robot, no recorded runs)" ;; esac
[ $CMD = run ] && { has eval || py_raise TypeError "run() missing 1 required positional argument: 'eval'"; }
[ -n "$name" ] || py_raise ValueError "policy placeholder: pass --policy=.<config>"
[ "$name" = sample ] && die "policy .sample (a weighted mix of configs) is not modelled by the sandbox"

if [ "$RT_ERA" = runbook ]; then
  gui=$(opt driver.show_gui False) simtime=$(opt driver.simulation_time 15) iters=$(opt driver.num_iterations 1)
  int_arg driver.simulation_time "$simtime"; int_arg driver.num_iterations "$iters"
  if truthy "$gui" && [ -z "$DISPLAY" ]; then die "gladLoadGL error: no display (set MUJOCO_GL=egl and --driver.show_gui=False)"; fi
  if ! truthy "$gui" && [ "$MUJOCO_GL" != egl ]; then die "gladLoadGL error (headless: set MUJOCO_GL=egl)"; fi
  case $name in
    groot_*) host=$(opt policy.base.host localhost) port=$(opt policy.base.port 9000) ;;
    openpi_*) host=$(opt policy.base.host localhost) port=$(opt policy.base.port 8000) ;;
    remote) host=$(opt policy.host localhost) port=$(opt policy.port 8000) ;;
    act_absolute) has policy.base.checkpoints_dir ||
      py_raise configuronic.config.ConfigError "Error instantiating \"policy.base\": act() missing 1 required positional argument: 'checkpoints_dir'" ;;
  esac
  ticks=$((simtime * iters / 3)); [ $ticks -lt 1 ] && ticks=1
else
  trials=$(opt eval.trial_count 1) timeout_s=$(opt eval.timeout 15) seed=$(opt eval.seed None)
  int_arg eval.trial_count "$trials"; int_arg eval.timeout "$timeout_s"; [ "$seed" = None ] || int_arg eval.seed "$seed"
  [ "$MUJOCO_GL" = egl ] || die "gladLoadGL error (headless: set MUJOCO_GL=egl)"
  case $name in
    remote) url=$(opt policy.url ws://localhost:8000) ;;
    authed_remote) has policy.url || py_raise TypeError "authed_remote() missing 1 required positional argument: 'url'"
      [ -n "$AUTH_TOKEN" ] || py_raise RuntimeError "AUTH_TOKEN is not set (needed by .authed_remote)"; url=$(opt policy.url) ;;
    nebius_remote) die "nebius: command not found (the .nebius_remote token comes from the nebius CLI)" ;;
  esac
  # host | host:port | scheme://host[:port][/api/v1/session[/<model_id>]][?query]; 80/443 by default
  scheme=ws; case $url in *://*) scheme=${url%%://*}; url=${url#*://} ;; esac
  hostport=${url%%[/?]*}; rest=${url#"$hostport"}; rest=${rest%%\?*}
  case $scheme in ws|http) defport=80 ;; wss|https) defport=443 ;; *) py_raise ValueError "Unsupported URL scheme: $scheme" ;; esac
  host=${hostport%:*}; port=${hostport##*:}; [ "$host" = "$hostport" ] && port=$defport
  model_id=; case $rest in /api/v1/session/?*) model_id=${rest#/api/v1/session/} ;; ''|/|/api/v1/session|/api/v1/session/) ;;
    *) py_raise ValueError "Unexpected URL path: $rest (use /api/v1/session[/<model_id>])" ;; esac
  web=http; case $scheme in wss|https) web=https ;; esac
  ticks=$((trials * timeout_s / 3)); [ $ticks -lt 1 ] && ticks=1
fi

if [ "$name" = act_absolute ]; then  # loads ACT in-process: no server involved
  root=$(slash "$(opt policy.base.checkpoints_dir)")
  last=$(ckpt_list "${root}checkpoints/" "" | tail -n 1)
  [ -n "$last" ] || RT_EXIT=2 die "no checkpoint under ${root}checkpoints/"
  echo "Policy .act_absolute loaded ${root}checkpoints/$(opt policy.base.checkpoint "$last")"
else
  auth=; [ "$name" = authed_remote ] && auth="Authorization: Bearer $AUTH_TOKEN"
  tries=0
  # TLS: the certificate is verified (SSL_CERT_FILE names extra CAs, as Python's ssl reads it); busybox wget cannot
  http_models() { if [ $web = https ]; then timeout 5 curl -sf ${SSL_CERT_FILE:+--cacert "$SSL_CERT_FILE"} \
    ${auth:+-H "$auth"} "https://$host:$port/api/v1/models"; else timeout 5 wget -qO- ${auth:+--header "$auth"} \
    "http://$host:$port/api/v1/models"; fi; }
  # The runbook's groot_* policies talk to gr00t's own ZeroMQ server (run_gr00t_server.py under upstream's
  # server.py), which has no HTTP: it is there when it sends ZMTP's greeting, whose signature starts with 0xff
  # (rfc.zeromq.org/spec/23). The catalog's stand-in server answers HTTP instead.
  zmtp() { [ "$(sleep 1 | timeout 5 nc "$host" "$port" | head -c 1 | od -An -tx1 | tr -d ' ')" = ff ] &&
    echo "[gr00t zmq policy server]"; }
  # The runbook's openpi_* policies talk to openpi's WebsocketPolicyServer (serve_policy.py under upstream's
  # server.py), which has no /api/v1/models. openpi's own client (openpi_client/websocket_client_policy.py,
  # _wait_for_server then infer) opens a websocket, reads the server's metadata message, then sends one
  # msgpack observation per step and reads a binary action reply. Here: RFC 6455's handshake (101, then
  # binary frames, opcode 2; a client frame is masked, here by the all-zero key; Sec-WebSocket-Key is the RFC's
  # sample nonce) with the observation {"prompt": "stack"}; ready once the metadata and an actions reply came.
  openpi_ws() {
    ws=$(mktemp); (printf 'GET / HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' "$host" "$port"
      printf 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'; sleep 1
      printf '\202\216\000\000\000\000\201\246prompt\245stack'; sleep 2) | timeout 5 nc "$host" "$port" > "$ws"
    # printable runs of the frames: the metadata's keys and values, then the reply's "actions"
    words=$(sed '1,/^\r$/d' "$ws" | tr -c ' -~' '\n' | grep ..); head=$(head -c 12 "$ws"); rm -f "$ws"
    [ "$head" = "HTTP/1.1 101" ] && printf '%s\n' "$words" | grep -qx actions || return 1
    echo "[openpi websocket policy server; metadata: $(printf '%s\n' "$words" | sed '/^actions$/,$d' | tr '\n' ' ')]"
  }
  get_models() { http_models; }
  case $RT_ERA.$name in runbook.groot_*) get_models() { http_models || zmtp; } ;;
    runbook.openpi_*) get_models() { openpi_ws; } ;; esac
  until models=$(get_models 2>/dev/null) && [ -n "$models" ]; do
    tries=$((tries + 1)); [ $tries -ge 10 ] && RT_EXIT=3 die "policy server $host:$port did not answer"; sleep 1
  done
  if [ -n "$model_id" ]; then
    case $models in *"\"$model_id\""*) ;; *) RT_EXIT=3 die "server $host:$port has no model '$model_id': $models" ;; esac
  fi
  echo "Policy $policy connected to $host:$port: $models"
fi
i=0; while [ $i -lt $ticks ]; do i=$((i + 1)); tick; progress $i $ticks; done
if [ -n "$(opt output_dir)" ] && [ "$(opt output_dir)" != None ]; then
  out=$(slash "$(opt output_dir)")
  s3_put "${out}data/chunk-000/episode_000000.parquet" "stand-in episode"
  metadata "$out"
fi
echo "Simulation finished: $ticks steps simulated with policy $policy"
