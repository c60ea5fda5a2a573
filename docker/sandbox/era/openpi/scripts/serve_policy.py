# SANDBOX STUB of openpi's scripts/serve_policy.py (the model layer under positronic's vendors/openpi/server.py
# in both eras, which runs it through `uv run --frozen --project <openpi> -- python ...`).
# Real: the command line, parsed by tyro 0.9.22 (the version openpi's uv.lock pins) into openpi's Args shape
# (Physical-Intelligence/openpi scripts/serve_policy.py, commit 15a9616); the websocket wire protocol of
# openpi's WebsocketPolicyServer (src/openpi/serving/websocket_policy_server.py): metadata first, then one
# action dict per observation, msgpack-numpy frames by openpi's own openpi_client.msgpack_numpy (installed in
# openpi's venv, as openpi's workspace has it), and GET /healthz. That is what openpi_client's
# WebsocketClientPolicy, under the current era's server.py, expects. Stubbed: the policy, whose forward pass
# returns the rest action, loaded only as far as reading the checkpoint folder positronic downloaded.
import asyncio
import dataclasses
import enum
import http
import logging
import time
from pathlib import Path

import numpy as np
import tyro
import websockets.asyncio.server as _server
from openpi_client import msgpack_numpy


class EnvMode(enum.Enum):
    ALOHA = "aloha"
    ALOHA_SIM = "aloha_sim"
    DROID = "droid"
    LIBERO = "libero"


@dataclasses.dataclass
class Checkpoint:
    """Load a policy from a trained checkpoint."""

    config: str
    dir: str


@dataclasses.dataclass
class Default:
    """Use the default policy for the given environment."""


@dataclasses.dataclass
class Args:
    """Arguments for the serve_policy script."""

    env: EnvMode = EnvMode.ALOHA_SIM
    default_prompt: str | None = None
    port: int = 8000
    record: bool = False
    policy: Checkpoint | Default = dataclasses.field(default_factory=Default)


class ZeroPolicy:
    """STUB: the model. Its forward pass returns the rest action (action horizon 10, 8 dims, as pi05 emits): zeros
    but for the identity rotation of pi05_positronic's absolute pose (x, y, z, quaternion w x y z, grip), since
    positronic's decoders refuse a zero quaternion ("Quaternion must be non-zero"), as for the GR00T stub."""

    def __init__(self, config: str, folder: str) -> None:
        path = Path(folder)
        if not path.is_dir():
            raise FileNotFoundError(f"Checkpoint directory does not exist: {folder}")
        self.metadata = {"config": config, "checkpoint": path.name}

    def infer(self, obs: dict) -> dict:
        actions = np.zeros((10, 8), dtype=np.float32)
        actions[:, 3] = 1.0  # the quaternion's w
        return {"actions": actions, "policy_timing": {"infer_ms": 0.0}}


def _health_check(connection, request):
    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "OK\n")
    return None


async def _serve(policy: ZeroPolicy, port: int) -> None:
    async def handler(websocket):
        packer = msgpack_numpy.Packer()
        logging.info(f"Connection from {websocket.remote_address} opened")
        await websocket.send(packer.pack(policy.metadata))
        while True:
            try:
                obs = msgpack_numpy.unpackb(await websocket.recv())
            except Exception:
                logging.info(f"Connection from {websocket.remote_address} closed")
                return
            begin = time.monotonic()
            action = policy.infer(obs)
            action["server_timing"] = {"infer_ms": (time.monotonic() - begin) * 1000}
            await websocket.send(packer.pack(action))

    async with _server.serve(handler, "0.0.0.0", port, compression=None, max_size=None,
                             process_request=_health_check) as server:
        await server.serve_forever()


def main(args: Args) -> None:
    if not isinstance(args.policy, Checkpoint):
        raise ValueError("the sandbox has no default policies to download: pass policy:checkpoint")
    policy = ZeroPolicy(args.policy.config, args.policy.dir)
    logging.info("Creating server (port: %s)", args.port)
    asyncio.run(_serve(policy, args.port))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, force=True)
    main(tyro.cli(Args))
