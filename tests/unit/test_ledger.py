"""The run ledger: local JSON lines, run.json in the sandbox S3, secrets never written."""
from __future__ import annotations

import json
import uuid

import pytest

from remote_training.jobs.spec import JobSpec
from remote_training.records import ledger, storage

SECRET = "wandb-" + uuid.uuid4().hex  # a value only this test knows


def spec(output="s3://checkpoints/x/", exp="040126", **kw):
    output = output if output.endswith("/") else output + "/"
    fields = dict(job_id=f"groot-train-{uuid.uuid4().hex[:6]}", service="groot-train", kind="train",
                  host="vm-train2", image="localhost:5000/positro/gr00t:src-abc",
                  args=("--input_path=s3://interim/d/", f"--output_path={output}", f"--exp_name={exp}",
                        "--num_train_steps=20"),
                  inputs=("s3://interim/d/",), output=output, exp_name=exp,
                  program="positronic.vendors.gr00t.train", era="4261b1aa", run_folder=f"{output}{exp}/",
                  layout="groot", options={"modality": "ee", "steps": 20, "exp_name": exp})
    fields.update(kw)
    return JobSpec(**fields)


def test_run_folder_follows_each_trainer_layout():
    """The run folder is set once per job (jobs/services.py) and the ledger records exactly that."""
    from remote_training.jobs import catalog, services

    for era in catalog.ERAS:
        assert services.GrootTrain("s3://i/d", "s3://c/g", "e1").run_folder(era) == "s3://c/g/e1/"
        assert services.OpenpiTrain("s3://i/d", "s3://c/o/", "e1", stats_path="s3://i/s",
                                    config_name="pi0_x").run_folder(era) == "s3://c/o/pi0_x/e1/"
        assert (services.OpenpiTrain("s3://i/d", "s3://c/o/", "e1", stats_path="s3://i/s").run_folder(era)
                == "s3://c/o/pi05_positronic_lowmem/e1/")
        assert services.LerobotTrain("s3://i/d", "s3://c/act", "e1").run_folder(era) == "s3://c/act/e1/"
        assert services.Stats("s3://i/d", "s3://i/assets").run_folder(era) == "s3://i/assets/"
        assert services.Convert("@positronic.cfg.ds.x", "s3://i/conv").run_folder(era) == "s3://i/conv/"
        assert services.GrootServer("s3://c/g/e1").run_folder(era) is None
    assert ledger.record_url("s3://c/o/pi0_x/e1/") == "s3://c/o/pi0_x/.rt-runs/e1/run.json"


def test_start_and_finish_merge_into_one_record(tmp_path):
    book = ledger.Ledger(tmp_path / "state" / "ledger.jsonl")
    s = spec()
    entry = book.start(s, image_digest="sha256:abc")
    assert entry["run_folder"] == "s3://checkpoints/x/040126/"
    assert entry["run_json"] == "s3://checkpoints/x/.rt-runs/040126/run.json"  # outside the synced prefix
    book.finish(s.job_id, 0)
    [record] = book.entries()
    assert record["job_id"] == s.job_id and record["host"] == "vm-train2" and record["exit_code"] == 0
    assert record["image"] == s.image and record["image_digest"] == "sha256:abc"
    assert record["started"] and record["ended"] and record["user"]
    assert (tmp_path / "state" / "ledger.jsonl").stat().st_mode & 0o777 == 0o600


def test_secrets_are_excluded_by_name_and_by_value(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    book = ledger.Ledger(tmp_path / "ledger.jsonl")
    s = spec(args=("--exp_name=e", f"--wandb_api_key={SECRET}", f"--note=key is {SECRET}", "--hf_token=abc"))
    book.start(s)
    text = (tmp_path / "ledger.jsonl").read_text()
    assert SECRET not in text and "abc" not in text.split("hf_token")[1][:6]
    args = book.entries()[0]["args"]
    assert args == ["--exp_name=e", "--wandb_api_key=***", "--note=key is ***", "--hf_token=***"]


def test_history_survives_a_torn_line_and_keeps_order(tmp_path):
    book = ledger.Ledger(tmp_path / "ledger.jsonl")
    first, second = spec(), spec()
    book.start(first)
    with open(book.path, "a") as fh:
        fh.write('{"job_id": "half-writ')
        fh.write("\n")
    book.start(second)
    assert [e["job_id"] for e in book.entries()] == [first.job_id, second.job_id]


def test_default_path_reads_the_deprecated_env_once_then_the_state_dir(monkeypatch, tmp_path, capsys):
    from remote_training import state

    monkeypatch.setattr(state, "_warned", set())
    monkeypatch.setenv("RT_LEDGER", str(tmp_path / "l.jsonl"))
    assert ledger.default_path() == ledger.default_path() == tmp_path / "l.jsonl"
    warned = capsys.readouterr().err.splitlines()
    assert warned == ["warning: RT_LEDGER is deprecated and will stop being read: set INVOKE_JOBS_LEDGER "
                      "(config jobs.ledger) instead"]
    monkeypatch.delenv("RT_LEDGER")
    assert ledger.default_path(tmp_path / "configured") == tmp_path / "configured" / "ledger.jsonl"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert ledger.default_path() == tmp_path / "remote-training" / "ledger.jsonl"


@pytest.fixture
def s3(sandbox, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "sandbox")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sandbox-secret-value")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return storage.client(sandbox["s3_local_endpoint"])


def test_run_json_lands_beside_the_run_folder_and_traces_back(s3, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    root = f"s3://checkpoints/test-ledger/{uuid.uuid4().hex[:8]}"
    s = spec(output=root, args=(f"--output_path={root}", "--exp_name=040126", f"--wandb_api_key={SECRET}"))
    book = ledger.Ledger(tmp_path / "ledger.jsonl")
    entry = book.entry(s)  # the claim, written before the job starts
    storage.claim_run(s3, entry["run_json"], entry, append=False)
    book.start(s, image_digest="sha256:feed", entry=entry)
    bucket, key = storage.split_s3(f"{root}/040126/checkpoint-20/meta.json")
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"step": 20}')  # what the trainer writes
    book.finish(s.job_id, 3, s3=s3)
    assert not storage.object_exists(s3, f"{root}/040126/run.json")  # never inside what the job syncs
    [run] = storage.read_run(s3, f"{root}/.rt-runs/040126/run.json")[0]["launches"]
    assert run["job_id"] == s.job_id and run["exit_code"] == 3 and run["image_digest"] == "sha256:feed"
    assert SECRET not in json.dumps(run) and "sandbox-secret-value" not in json.dumps(run)
    latest = storage.latest_checkpoint(s3, f"{root}/040126/", "groot")
    assert book.trace(latest.url)["job_id"] == s.job_id


def test_history_task_lists_traces_and_refuses_unknown_jobs(tmp_path, capsys):
    from invoke import Config, Context, Exit

    from rt_tasks._history import history

    book = ledger.Ledger(tmp_path / "ledger.jsonl")
    first, second = spec(output="s3://checkpoints/a/"), spec(output="s3://checkpoints/b/")
    book.start(first, image_digest="sha256:" + "1" * 64)
    book.start(second)
    book.finish(first.job_id, 0)
    c = Context(Config(overrides={"jobs": {"ledger": str(book.path)}}))
    history(c, json=True)
    listed = json.loads(capsys.readouterr().out)
    assert [e["job_id"] for e in listed] == [first.job_id, second.job_id] and listed[0]["exit_code"] == 0
    history(c, json=True, trace="s3://checkpoints/b/040126/checkpoint-20/")
    assert [e["job_id"] for e in json.loads(capsys.readouterr().out)] == [second.job_id]
    history(c)
    table = capsys.readouterr().out
    assert first.job_id in table and "sha256:11111111" in table
    with pytest.raises(Exit) as info:
        history(c, job="nope")
    assert info.value.code == 2 and "job 'nope' is not in the ledger" in str(info.value.message)


def test_a_ledger_that_cannot_be_written_only_warns_after_launch(capsys):
    from pathlib import Path

    from remote_training.guard import LaunchGuard
    from remote_training.jobs.spec import LaunchResult

    guard = LaunchGuard(runner=None, inventory=None, ledger=ledger.Ledger(Path("/dev/null/ledger.jsonl")),
                        s3=object(), echo=lambda line: None)
    s = spec()
    guard.record(s, LaunchResult(s.job_id, s.host))  # the job is already running: must not raise
    assert f"warning: {s.job_id} started but was not recorded" in capsys.readouterr().err


def test_a_checkpoint_traces_to_its_run_json_from_another_laptop(s3, tmp_path):
    root = f"s3://checkpoints/test-ledger/{uuid.uuid4().hex[:8]}"
    s = spec(output=root)
    entry = ledger.Ledger.entry(s, image_digest="sha256:beef")
    storage.claim_run(s3, entry["run_json"], entry, append=False)
    ledger.Ledger(tmp_path / "launcher.jsonl").start(s, entry=entry)
    # Another laptop: an empty local ledger, only S3.
    assert ledger.Ledger(tmp_path / "other.jsonl").trace(f"{root}/040126/checkpoint-20/") is None
    found = ledger.find_run_json(s3, f"{root}/040126/checkpoint-20/model.safetensors")
    assert found["job_id"] == s.job_id and found["image_digest"] == "sha256:beef"
    assert ledger.find_run_json(s3, f"{root}-nothing/e/checkpoint-1/") is None


def test_a_job_log_is_masked_by_value_and_by_variable_name():
    """Upstream prints its whole environment (`print(f'Running command: ... with env: {env}')`): every secret
    value the tool handed the job goes, and a secret-named variable's value even when too short to mask
    wherever it appears."""
    env = {"HOME": "/root", "AWS_SECRET_ACCESS_KEY": "sandbox", "WANDB_API_KEY": SECRET, "HF_TOKEN": "hf\"x'y",
           "PATH": "/usr/bin"}
    line = f"Running command: `python scripts/train.py`\n with env: {env}\nstep 3 used {SECRET}\n"
    masked = ledger.scrub_log(line, [SECRET])
    assert SECRET not in masked and "'sandbox'" not in masked and "hf\"x'y" not in masked
    assert "'AWS_SECRET_ACCESS_KEY': '***'" in masked and "'HOME': '/root'" in masked and "step 3 used ***" in masked
    assert ledger.scrub_log("HF_TOKEN=abc num_tokens=5\n", []) == "HF_TOKEN=*** num_tokens=5\n"


def test_a_streamed_log_is_masked_even_when_a_secret_spans_two_writes():
    import io

    out = io.StringIO()
    stream = ledger.MaskedStream(out, [SECRET])
    text = f"epoch 1 {SECRET} done\r 50%|#####| 5/10 [00:01<00:01]\rlast line {SECRET[:5]}"
    for i in range(0, len(text), 7):  # an SSH channel's chunks cut anywhere
        stream.write(text[i:i + 7])
    assert SECRET[:10] not in out.getvalue()  # the line holding the cut secret waited for its end
    stream.close()
    assert out.getvalue() == f"epoch 1 *** done\r 50%|#####| 5/10 [00:01<00:01]\rlast line {SECRET[:5]}"
