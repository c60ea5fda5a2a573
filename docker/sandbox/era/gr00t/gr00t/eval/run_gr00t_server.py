# SANDBOX STUB of gr00t's gr00t/eval/run_gr00t_server.py (the model layer under positronic's vendors/gr00t/server.py
# in both eras, which runs it as a subprocess with gr00t's venv Python, cwd = the gr00t checkout).
# Real: the command line, parsed by tyro (Isaac-GR00T's pin, 0.9.17) into the shape of its ServerConfig
# (NVIDIA/Isaac-GR00T gr00t/eval/run_gr00t_server.py), the checks that the model folder and the modality config
# exist, and the wire protocol of gr00t's PolicyServer (gr00t/policy/server_client.py): a ZeroMQ REP socket
# taking msgpack {'endpoint', 'data'} requests, numpy arrays as {'__ndarray_class__', 'as_npy'}, endpoints
# ping / reset / get_action (-> [action, info]) / get_modality_config, {'error': ...} on a failure.
# Stubbed: the policy. Its forward pass returns the rest action for the action block the modality config declares,
# shaped (batch, horizon, dim) with GR00T N1.6's horizon of 16: zeros, but an end-effector pose holds the
# identity rotation (quaternion or rot6d), since positronic's codecs refuse a zero one and every GR00T pipeline
# decodes a pose (the simulator client then runs a trial against it).
import dataclasses
import importlib
import io
import sys
import traceback
from pathlib import Path

import msgpack
import numpy as np
import tyro
import zmq
from gr00t.data.embodiment_tags import EmbodimentTag

ACTION_HORIZON = 16
IDENTITY = {4: [1, 0, 0, 0], 6: [1, 0, 0, 0, 1, 0]}  # the identity rotation as a quaternion and as rot6d


@dataclasses.dataclass
class ServerConfig:
    model_path: str | None = None
    embodiment_tag: EmbodimentTag = EmbodimentTag.NEW_EMBODIMENT
    device: str = "cuda"
    dataset_path: str | None = None
    modality_config_path: str | None = None
    execution_horizon: int | None = None
    host: str = "127.0.0.1"
    port: int = 5555
    strict: bool = True
    use_sim_policy_wrapper: bool = False


def _encode(obj):
    if isinstance(obj, np.ndarray):
        out = io.BytesIO()
        np.save(out, obj, allow_pickle=False)
        return {"__ndarray_class__": True, "as_npy": out.getvalue()}
    return obj


def _decode(obj):
    if isinstance(obj, dict) and "__ndarray_class__" in obj:
        return np.load(io.BytesIO(obj["as_npy"]), allow_pickle=False)
    return obj


class ZeroPolicy:
    """STUB: the model, loaded only as far as finding its folder and the modality config's action block."""

    def __init__(self, config: ServerConfig) -> None:
        if config.model_path is None or not Path(config.model_path).is_dir():
            raise FileNotFoundError(f"Model path does not exist: {config.model_path}")
        path = Path(config.modality_config_path or "")
        if not (path.exists() and path.suffix == ".py"):
            raise FileNotFoundError(f"Modality config path does not exist: {config.modality_config_path}")
        sys.path.append(str(path.parent))
        self.action = importlib.import_module(path.stem).ACTION

    def get_action(self, data: dict) -> list:
        batch = next((len(v) for v in (data.get("observation") or {}).get("state", {}).values()), 1)
        action = {key: np.zeros((batch, ACTION_HORIZON, dim), dtype=np.float32) for key, dim in self.action.items()}
        for key, block in action.items():
            if key == "ee_pose":  # position, then the rotation: a quaternion (w first) or rot6d's two rows
                block[..., 3:] = IDENTITY[block.shape[-1] - 3]
        return [action, {}]


def main() -> None:
    config = tyro.cli(ServerConfig)
    policy = ZeroPolicy(config)
    socket = zmq.Context().socket(zmq.REP)
    socket.bind(f"tcp://{config.host}:{config.port}")
    print(f"Server is ready and listening on tcp://{config.host}:{config.port}", flush=True)
    endpoints = {"ping": lambda data: {"status": "ok", "message": "Server is running"},
                 "reset": lambda data: {}, "get_action": policy.get_action,
                 "get_modality_config": lambda data: {"action": sorted(policy.action)}}
    while True:
        request = msgpack.unpackb(socket.recv(), object_hook=_decode)
        try:
            handler = endpoints.get(request.get("endpoint"))
            reply = handler(request.get("data")) if handler else {"error": f"Unknown endpoint: {request.get('endpoint')}"}
        except Exception as exc:  # noqa: BLE001 - the server answers every request, as gr00t's does
            traceback.print_exc()
            reply = {"error": str(exc)}
        socket.send(msgpack.packb(reply, default=_encode))


if __name__ == "__main__":
    main()
