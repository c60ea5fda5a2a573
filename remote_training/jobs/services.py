"""Typed jobs: what each typed task asks for, rendered once into the argv its era's program reads.

A job object holds the user's values; `options` feeds the validators (every problem reported at
once), `argv(era)` renders configuronic syntax for the checkout's era (runbook 4261b1aa or current
a060cbea, see catalog.py), and the run folder, inputs, output and checkpoints are fields, never
parsed back out of the argv.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .. import validate
from ..errors import InputError

if TYPE_CHECKING:  # annotations only: a launch builds its job before SSH dials; the checkout's catalog can wait
    from .catalog import Era
    from .upstream import Sources

RUNBOOK, CURRENT = "4261b1aa", "a060cbea"
# GR00T modality names: the keys of this dict in the checkout (both eras), as upstream's train and server look
# them up; the current server's pipeline for each is read from its COMMANDS (jobs/upstream.py).
GROOT_MODALITIES = ("modality", "positronic.vendors.gr00t", "MODALITY_CONFIGS")
# GR00T modality -> the runbook-era client config (positronic/cfg/policy/policy.py at 4261b1aa). A table because
# upstream states no such link: a modality names a data config file of the gr00t fork, a groot_* client names
# observation and action encoders; the pairing is the runbook's.
GROOT_CLIENT_POLICY = {"ee": "groot_ee", "ee_q": "groot_ee_joints", "ee_rot6d": "groot_ee_rot6d",
                       "ee_rot6d_rel": "groot_ee_rot6d", "ee_rot6d_q": "groot_ee_rot6d_joints",
                       "ee_rot6d_q_rel": "groot_ee_rot6d_joints"}
OPENPI_CONFIG = "pi05_positronic_lowmem"


def today() -> str:
    """The seed's default experiment name: today as YYMMDD."""
    return time.strftime("%y%m%d")


def folder(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _flag(name: str, value: bool) -> list[str]:
    """A configuronic boolean: bare `--x` is True (`--x=true` would arrive as a string)."""
    return [f"--{name}"] if value else []


def _wrong_era(what: str, era: Era, fix: str) -> InputError:
    return InputError(f"{what} does not exist in the {era.label}", fix)


@dataclass(frozen=True)
class TypedJob:
    """The base of every typed job: the values one run of a service takes (not a running container:
    that is snapshot.Job)."""

    role: ClassVar[str]

    @property
    def options(self) -> dict[str, Any]:
        """Typed values by validator name (validate.OPTION_VALIDATORS)."""
        return {k: v for k, v in vars(self).items() if v is not None and not isinstance(v, bool)}

    @property
    def inputs(self) -> tuple[str, ...]:
        return ()

    @property
    def output(self) -> str | None:
        return None

    def run_folder(self, era: Era) -> str | None:
        """The prefix the job writes (and syncs) under."""
        return None

    @property
    def checkpoints(self) -> str | None:
        return None

    def argv(self, era: Era, upstream: Sources | None = None) -> list[str]:
        raise NotImplementedError

    def relative_bases(self, era: Era) -> dict[str, str]:
        """Field -> the module its default config was created in: where configuronic resolves a `.name` value
        of that field (upstream's checks: jobs/upstream.py)."""
        return {}

    def choices(self, era: Era) -> dict[str, tuple[str, str, str]]:
        """Field -> (what it is, module, dict): the value must be one of the keys of that module-level dict."""
        return {}


@dataclass(frozen=True)
class Convert(TypedJob):
    role: ClassVar[str] = "convert"
    dataset: str
    output_dir: str
    fps: int | None = None
    observation: str | None = None
    action: str | None = None
    codec: str | None = None

    @property
    def output(self) -> str:
        return folder(self.output_dir)

    def run_folder(self, era: Era) -> str:
        return self.output

    def relative_bases(self, era: Era) -> dict[str, str]:
        # 4261b1aa positronic/cfg/dataset.py `encoded` (and every cfg/phail.py preset) takes its defaults from
        # positronic.cfg.policy.observation and .action.
        return {"dataset.observation": "positronic.cfg.policy.observation",
                "dataset.action": "positronic.cfg.policy.action"} if era.name == RUNBOOK else {}

    def argv(self, era: Era, upstream: Sources | None = None) -> list[str]:
        if era.name == RUNBOOK:
            if self.codec:
                raise _wrong_era("--codec", era, "give --observation and --action (the runbook's converter)")
            if not (self.observation and self.action):
                raise InputError("the runbook-era converter needs --observation and --action",
                                 "e.g. --observation .groot_rot6d_joints --action .groot_rot6d")
            return ["convert", f"--dataset={validate.config_ref(self.dataset, 'dataset config')}",
                    f"--dataset.observation={validate.observation(self.observation)}",
                    f"--dataset.action={validate.action(self.action)}",
                    f"--output_dir={self.output}", f"--fps={int(validate.fps(self.fps or 15))}"]
        if self.observation or self.action:
            raise _wrong_era("--observation/--action", era,
                             "give --codec, e.g. @positronic.vendors.gr00t.codecs.ee_rot6d_joints")
        if not self.codec:
            raise InputError(f"the {era.label} converter needs --codec",
                             "e.g. --codec @positronic.vendors.gr00t.codecs.ee_rot6d_joints")
        args = ["convert", f"--dataset.dataset={validate.config_ref(self.dataset, 'dataset config')}",
                f"--dataset.codec={validate.config_ref(self.codec, 'codec')}", f"--output_dir={self.output}"]
        return args + ([f"--fps={int(validate.fps(self.fps))}"] if self.fps else [])


@dataclass(frozen=True)
class _InOut(TypedJob):
    """A job that reads one S3 folder and writes another."""
    input_path: str
    output_path: str

    @property
    def inputs(self) -> tuple[str, ...]:
        return (folder(self.input_path),)

    @property
    def output(self) -> str:
        return folder(self.output_path)

    def run_folder(self, era: Era) -> str:
        return self.output


@dataclass(frozen=True)
class Stats(_InOut):
    role: ClassVar[str] = "stats"

    def argv(self, era: Era, upstream: Sources | None = None) -> list[str]:
        return [f"--input_path={self.inputs[0]}", f"--output_path={self.output}"]


@dataclass(frozen=True)
class _Train(_InOut):
    exp_name: str = field(default_factory=today)
    steps: int | None = None
    resume: bool = False

    def run_folder(self, era: Era) -> str:
        return f"{self.output}{self.exp_name}/"


@dataclass(frozen=True)
class GrootTrain(_Train):
    role: ClassVar[str] = "groot-train"
    modality: str = "ee"
    save_steps: int | None = None
    workers: int | None = None
    keep_optimizers: int | None = None  # current era: optimizer.pt kept in the last N checkpoints only

    def choices(self, era: Era) -> dict[str, tuple[str, str, str]]:
        return {"modality_config": GROOT_MODALITIES}

    def argv(self, era: Era, upstream: Sources | None = None) -> list[str]:
        modality = validate.modality(self.modality)
        args = [f"--input_path={self.inputs[0]}", f"--output_path={self.output}", f"--exp_name={self.exp_name}",
                f"--modality_config={modality}"]
        args += [f"--num_train_steps={self.steps}"] if self.steps else []
        args += [f"--save_steps={self.save_steps}"] if self.save_steps else []
        args += [f"--num_workers={self.workers}"] if self.workers is not None else []
        if self.keep_optimizers is not None:  # a060cbea positronic/vendors/gr00t/train.py, default 2
            if era.name == RUNBOOK:
                raise _wrong_era("--keep-optimizers", era, "drop it: the runbook's trainer keeps every optimizer.pt")
            args += [f"--keep_optimizers_for_last_n={validate.count(self.keep_optimizers, 'keep optimizers')}"]
        return args + _flag("resume", self.resume)


@dataclass(frozen=True)
class OpenpiTrain(_Train):
    role: ClassVar[str] = "openpi-train"
    stats_path: str = ""
    config_name: str = OPENPI_CONFIG

    @property
    def inputs(self) -> tuple[str, ...]:
        return (folder(self.input_path), folder(self.stats_path))

    def run_folder(self, era: Era) -> str:
        return f"{self.output}{self.config_name}/{self.exp_name}/"

    def argv(self, era: Era, upstream: Sources | None = None) -> list[str]:
        args = [f"--input_path={self.inputs[0]}", f"--stats_path={self.inputs[1]}", f"--output_path={self.output}",
                f"--exp_name={self.exp_name}"]
        args += [f"--config_name={self.config_name}"] if self.config_name != OPENPI_CONFIG else []
        args += [f"--num_train_steps={self.steps}"] if self.steps else []
        return args + _flag("resume", self.resume)


@dataclass(frozen=True)
class LerobotTrain(_Train):
    role: ClassVar[str] = "lerobot-train"
    codec: str | None = None  # current era: `.joints` or `@positronic.vendors.lerobot_0_3_3.codecs.joints`
    backbone: str | None = None  # current era: a key of lerobot_0_3_3/backbone.py BACKBONES
    CODECS: ClassVar[str] = "positronic.vendors.lerobot_0_3_3.codecs"

    def relative_bases(self, era: Era) -> dict[str, str]:
        return {"codec": self.CODECS}  # the trainer's default codec, lerobot_codecs.ee, lives there

    def choices(self, era: Era) -> dict[str, tuple[str, str, str]]:
        # `if backbone not in BACKBONES: raise ValueError(...)` (a060cbea lerobot_0_3_3/train.py)
        return {"backbone": ("--backbone", "positronic.vendors.lerobot_0_3_3.backbone", "BACKBONES")}

    def argv(self, era: Era, upstream: Sources | None = None) -> list[str]:
        if era.name == RUNBOOK:  # positronic-train: lerobot's own names, run_name and steps
            if self.codec or self.backbone:
                raise _wrong_era("--codec/--backbone", era, "drop them: the runbook's ACT trainer takes neither")
            args = [f"--dataset_root={self.inputs[0]}", f"--run_name={self.exp_name}", f"--output_dir={self.output}"]
            args += [f"--steps={self.steps}"] if self.steps else []
        else:
            args = [f"--input_path={self.inputs[0]}", f"--exp_name={self.exp_name}", f"--output_dir={self.output}"]
            args += [f"--num_train_steps={self.steps}"] if self.steps else []
            args += [f"--codec={validate.relative_config(self.codec, 'codec')}"] if self.codec else []
            args += [f"--backbone={validate.identifier(self.backbone, 'backbone')}"] if self.backbone else []
        return args + (["--resume=True"] if self.resume else [])  # lerobot's cfg key, read by configuronic


@dataclass(frozen=True)
class SmolvlaTrain(_Train):
    """SmolVLA on LeRobot 0.4 (lerobot-train at a060cbea): `expert_only` or `full_finetune` comes first."""
    role: ClassVar[str] = "smolvla-train"
    mode: str = "expert_only"
    codec: str | None = None
    CODECS: ClassVar[str] = "positronic.vendors.lerobot.codecs"

    def relative_bases(self, era: Era) -> dict[str, str]:
        return {"codec": self.CODECS}

    def argv(self, era: Era, upstream: Sources | None = None) -> list[str]:
        args = [validate.identifier(self.mode, "training mode"), f"--input_path={self.inputs[0]}",
                f"--exp_name={self.exp_name}", f"--output_dir={self.output}"]
        args += [f"--num_train_steps={self.steps}"] if self.steps else []
        args += [f"--codec={validate.relative_config(self.codec, 'codec')}"] if self.codec else []
        return args + (["--resume=True"] if self.resume else [])


@dataclass(frozen=True)
class _Server(TypedJob):
    checkpoints_dir: str | None = None  # optional with a preset, which binds its own
    checkpoint: str | None = None
    port: int | None = None
    # current era: a deployment the checkout's server defines (phail, sim_stack, demo); keyword-only
    preset: str | None = field(default=None, kw_only=True)

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.checkpoints,) if self.checkpoints else ()

    @property
    def checkpoints(self) -> str | None:
        return folder(self.checkpoints_dir) if self.checkpoints_dir else None

    def source(self, era: Era) -> None:
        """What the server serves: --checkpoints, or (current era) a preset that binds its own."""
        if self.preset and era.name == RUNBOOK:
            raise _wrong_era("--preset", era, "give --checkpoints (presets came with the current servers)")
        if not (self.preset or self.checkpoints_dir):
            raise InputError("a server needs --checkpoints, or --preset for a deployment the checkout defines",
                             "e.g. --checkpoints s3://checkpoints/<run>/ or --preset sim_stack")

    def command(self, era: Era, pipeline: str, checkpoint: str | None) -> list[str]:
        """The current era's server argv: the pipeline (or preset) word, then the checkpoints it serves (a
        preset binds its own: then --checkpoints only overrides them)."""
        self.source(era)
        args = [validate.identifier(self.preset or pipeline, "preset" if self.preset else "pipeline")]
        args += [f"--pipeline.source.checkpoints_dir={self.checkpoints}"] if self.checkpoints else []
        return args + ([f"--pipeline.source.checkpoint={checkpoint}"] if checkpoint else [])

    def step(self) -> str | None:
        """The checkpoint as its step number (servers add their own `checkpoint-` prefix)."""
        return validate.checkpoint(self.checkpoint).removeprefix("checkpoint-") if self.checkpoint else None

    def client(self, era: Era) -> str:
        """The inference client's policy config for this server."""
        return "remote"


@dataclass(frozen=True)
class GrootServer(_Server):
    role: ClassVar[str] = "groot-server"
    modality: str = "ee"

    def choices(self, era: Era) -> dict[str, tuple[str, str, str]]:
        return {"modality_config": GROOT_MODALITIES}  # the runbook's server takes the modality itself

    def argv(self, era: Era, upstream: Sources | None = None) -> list[str]:
        modality = validate.modality(self.modality)
        if era.name == RUNBOOK:
            self.source(era)
            args = [f"--checkpoints_dir={self.checkpoints}", f"--modality_config={modality}",
                    f"--port={era.server_port[self.role]}"]
            return args + ([f"--checkpoint={self.step()}"] if self.checkpoint else [])
        return self.command(era, self.pipeline_for(era, modality, upstream), self.step())

    def pipeline_for(self, era: Era, modality: str, upstream: Sources | None) -> str:
        """The current server's command whose pipeline binds `source.modality_config` to the modality (names
        differ: `ee_joints` serves `ee_q`), read from the checkout's server; a preset binds its own."""
        if self.preset:
            return self.preset
        server = era.program(self.role)
        if upstream is None:
            raise InputError(f"which {server} pipeline serves modality {modality!r} is read from the checkout's "
                             "Python, and it has no positronic/ beside docker/",
                             "use a full positronic checkout (git clone), or --preset")
        served = upstream.commands_binding(server, "pipeline.source.modality_config")
        if modality not in served:
            raise InputError(f"no {server} pipeline serves modality {modality!r} in this checkout",
                             f"{validate.did_you_mean(modality, served)}it serves: {', '.join(served)}")
        return served[modality]

    def client(self, era: Era) -> str:
        if era.name != RUNBOOK:
            return "remote"
        modality = validate.modality(self.modality)
        if modality not in GROOT_CLIENT_POLICY:
            raise InputError(f"the runbook pairs no client policy with modality {modality!r}",
                             f"{validate.did_you_mean(modality, GROOT_CLIENT_POLICY)}"
                             f"known: {', '.join(GROOT_CLIENT_POLICY)}")
        return GROOT_CLIENT_POLICY[modality]


@dataclass(frozen=True)
class OpenpiServer(_Server):
    role: ClassVar[str] = "openpi-server"
    config_name: str = OPENPI_CONFIG
    pipeline: str = "ee"
    ee_frame: str | None = None

    def argv(self, era: Era, upstream: Sources | None = None) -> list[str]:
        if era.name == RUNBOOK:
            self.source(era)
            # No --port: upstream's server.py (4261b1aa) hands it to openpi's scripts/serve_policy.py after the
            # `policy:checkpoint` subcommand, where tyro 0.9.22 refuses it ("Unrecognized or misplaced options:
            # --port"); serve_policy.py listens on 8000 (era.server_port) by default, as the runbook runs it.
            args = [f"--checkpoints_dir={self.checkpoints}"]
            args += [f"--config_name={self.config_name}"] if self.config_name != OPENPI_CONFIG else []
            return args + ([f"--checkpoint={self.step()}"] if self.checkpoint else [])
        args = self.command(era, self.pipeline, None)
        from .upstream import REQUIRED  # loaded already: `upstream` is its reader

        # upstream's `pipeline` takes `ee_frame` without a default; the commands that bind none (the checkout's
        # server, jobs/upstream.py) need it given. Without the checkout's Python, upstream judges at start.
        if not self.ee_frame and upstream and upstream.bound(era.program(self.role), args[0], "pipeline.ee_frame") \
                is REQUIRED:
            raise InputError(f"the {era.label} OpenPI {'preset' if self.preset else 'pipeline'} {args[0]!r} needs "
                             "--ee-frame", "give the frame the checkpoint was trained in, or --ee-frame None for "
                             "the rig's default")
        args += [f"--pipeline.ee_frame={self.ee_frame}"] if self.ee_frame else []
        args += [f"--pipeline.source.config_name={self.config_name}"] if self.config_name != OPENPI_CONFIG else []
        return args + ([f"--pipeline.source.checkpoint={self.step()}"] if self.checkpoint else [])

    def client(self, era: Era) -> str:
        return "openpi_positronic" if era.name == RUNBOOK else "remote"


@dataclass(frozen=True)
class LerobotServer(_Server):
    role: ClassVar[str] = "lerobot-server"
    pipeline: str = "ee"

    def argv(self, era: Era, upstream: Sources | None = None) -> list[str]:
        # LeRobot names checkpoints by the exact, zero-padded directory: sent as typed (preflight checks it).
        return self.command(era, self.pipeline, self.checkpoint)


@dataclass(frozen=True)
class SmolvlaServer(LerobotServer):
    """SmolVLA on LeRobot 0.4 (lerobot-server at a060cbea): the same server shape as ACT's."""
    role: ClassVar[str] = "smolvla-server"


@dataclass(frozen=True)
class SmolvlaConvert(Convert):
    """A dataset for SmolVLA (lerobot-convert at a060cbea: 512x512 images, `positronic.vendors.lerobot.codecs`)."""
    role: ClassVar[str] = "smolvla-convert"


@dataclass(frozen=True)
class Inference(TypedJob):
    """positronic-inference sim against a server at host:port with the server's client policy."""
    role: ClassVar[str] = "inference"
    policy: str
    server_host: str
    server_port: int
    gui: bool = False
    simulation_time: int = 10
    output_dir: str | None = None  # where the client records its episodes (a local folder or s3://)
    trials: int | None = None  # episodes to run

    @property
    def options(self) -> dict[str, Any]:
        checks: dict[str, Any] = {"server_port": self.server_port, "steps": self.simulation_time, "trials": self.trials}
        checks.update({"output_dir": self.output_dir} if (self.output_dir or "").startswith("s3://") else {})
        return checks

    def recording(self, era: Era) -> list[str]:
        """--output_dir and the trial count: `sim` at 4261b1aa (positronic/inference.py, the timed driver's
        num_iterations) and at a060cbea (positronic/cli/eval/run.py, eval.trial_count)."""
        args = [f"--output_dir={validate.path_or_s3(self.output_dir, 'output folder')}"] if self.output_dir else []
        if self.trials is not None:
            trials = validate.steps(self.trials, "trials")
            args += [f"--driver.num_iterations={trials}" if era.name == RUNBOOK else f"--eval.trial_count={trials}"]
        return args

    def relative_bases(self, era: Era) -> dict[str, str]:
        # `sim`'s policy default: positronic.cfg.policy.policy.placeholder at 4261b1aa (positronic/inference.py),
        # positronic.cfg.policy.unset at a060cbea (positronic/cli/eval/run.py).
        return {"policy": "positronic.cfg.policy.policy" if era.name == RUNBOOK else "positronic.cfg.policy"}

    def argv(self, era: Era, upstream: Sources | None = None) -> list[str]:
        policy = self.policy.lstrip(".")
        if era.name == RUNBOOK:
            if "://" in self.server_host:
                raise _wrong_era("a URL server (serverless endpoint)", era, "use a current-era checkout (a060cbea)")
            if policy == "act_absolute":
                raise InputError("act_absolute runs ACT in-process and contacts no server",
                                 "against a LeRobot server use --policy remote")
            where = ([f"--policy.host={self.server_host}", f"--policy.port={self.server_port}"] if policy == "remote"
                     else [f"--policy.base.host={self.server_host}", f"--policy.base.port={self.server_port}"])
            return ["sim", f"--policy=.{policy}", *where, f"--driver.show_gui={self.gui}",
                    f"--driver.simulation_time={self.simulation_time}", *self.recording(era)]
        if policy not in ("remote", "authed_remote"):
            raise _wrong_era(f"client policy {policy!r}", era, "use --policy remote (one client for every server)")
        url = self.server_host if "://" in self.server_host else f"{self.server_host}:{self.server_port}"
        return ["sim", f"--policy=.{policy}", f"--policy.url={url}", f"--eval.timeout={self.simulation_time}",
                *self.recording(era)]


@dataclass(frozen=True)
class ServiceRun(TypedJob):
    """Any service of the checkout with the user's own arguments (inv jobs.run), passed through as given."""
    role: ClassVar[str] = "service"
    service: str
    args: tuple[str, ...] = ()

    @property
    def options(self) -> dict[str, Any]:
        return {}

    def argv(self, era: Era, upstream: Sources | None = None) -> list[str]:
        return list(self.args)

    def client(self, era: Era) -> str | None:
        """Current-era servers all speak the one protocol of `.remote`; runbook-era ones each their own."""
        return "remote" if era.name != RUNBOOK else None
