"""Faults put into the sandbox on purpose: each case ends with nothing lost, a clear message and a
bounded time. (Two racing launches: tests/sandbox/test_guard_sandbox.py; the registry down mid-push:
tests/sandbox/test_images_build.py; the Nebius API restarted mid-start: tests/sandbox/test_vm_sandbox.py; the
serverless API restarted mid-job: tests/sandbox/test_serverless_jobs.py.)"""
from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from rt_sandbox.layout import host_specs
from tests.support import ROOT, cli_argv, inv, jobs_json, keys, put, ssh, started_job

HOST = "vm-train2"


def _spec(name: str):
    return next(s for s in host_specs(8) if s.name == name)


@contextmanager
def link_down(name: str):
    """The host's network cable pulled: its side of the bridge goes down, then comes back."""
    subprocess.run(["ip", "link", "set", _spec(name).veth, "down"], check=True)
    try:
        yield
    finally:
        subprocess.run(["ip", "link", "set", _spec(name).veth, "up"], check=True)


@contextmanager
def ssh_cut(name: str):
    """The laptop's path to the host lost (its SSH packets dropped, open connections included) while
    the host itself, and the job on it with its S3, carry on."""
    rule = ["INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP"]
    subprocess.run(["ip", "netns", "exec", _spec(name).netns, "iptables", "-I", *rule], check=True)
    try:
        yield
    finally:
        subprocess.run(["ip", "netns", "exec", _spec(name).netns, "iptables", "-D", *rule], check=True)


def _long_job(env, s3, prefix, cleanup) -> str:
    data = f"s3://interim/{prefix}/data/"
    put(s3, data + "meta/info.json", '{"observation": ".groot_joints"}')
    launched = inv(env, "train.groot", "--input", data, "--output", f"s3://checkpoints/{prefix}/long/", "--modality",
                   "ee", "--exp-name", "long", "--steps", "5000000", "--save-steps", "1000", "--host", HOST)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    job = started_job(launched)
    cleanup.append((HOST, job))
    return job


def _interrupted(env, commands, fault) -> dict[tuple, tuple[subprocess.CompletedProcess, float]]:
    """Run each `inv ARGS` of `commands` at once, put the fault in after they have started, and time how long
    each takes to give up (together: the fault is the same for all, and each waits out its own bound)."""
    procs = {args: subprocess.Popen(cli_argv(*args), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for args in commands}
    time.sleep(3)
    began = time.monotonic()
    ended: dict[tuple, tuple[subprocess.CompletedProcess, float]] = {}
    with fault():
        while len(ended) < len(procs):
            for args, proc in procs.items():
                if args not in ended and proc.poll() is not None:
                    out, err = proc.communicate()
                    ended[args] = subprocess.CompletedProcess(args, proc.returncode, out, err), time.monotonic() - began
            if time.monotonic() - began > 90:
                for proc in procs.values():
                    proc.kill()
                raise AssertionError(f"still running after 90 s: {sorted(set(procs) - set(ended))}")
            time.sleep(0.2)
    return ended


def test_a_cut_network_under_logs_follow_and_wait_is_said_within_30_s(jobs_env, s3, prefix, cleanup):
    job = _long_job(jobs_env, s3, prefix, cleanup)
    ended = _interrupted(jobs_env, [("jobs.logs", job, "--follow"), ("jobs.wait", job)], lambda: ssh_cut(HOST))
    for args, (done, took) in ended.items():
        assert done.returncode == 4 and f"{HOST} stopped answering" in done.stderr, (args, done.stderr)
        assert f"inv jobs.wait {job}" in done.stderr and took < 45, (args, took)
    # Nothing was lost: the job kept running and is found again once the network is back.
    assert jobs_json(jobs_env, "--host", HOST)[job]["state"] == "running"
    assert inv(jobs_env, "jobs.stop", job).returncode == 0


def test_the_s3_endpoint_down_at_launch_refuses_it_and_starts_nothing(jobs_env, s3, prefix, tmp_path):
    data, out = f"s3://interim/{prefix}/data/", f"s3://checkpoints/{prefix}/s3down/"
    put(s3, data + "meta/info.json", "{}")
    dead = tmp_path / "hosts.yaml"  # the same fleet, pointed at an S3 endpoint nothing listens on
    text = (ROOT / ".sandbox" / "hosts.yaml").read_text()
    dead.write_text(text.replace("s3: {endpoint_url: 'http://10.213.0.1:9555'}",
                                 "s3: {endpoint_url: 'http://127.0.0.1:9'}")
                    .replace("ssh_config: ssh_config", f"ssh_config: {ROOT / '.sandbox' / 'ssh_config'}")
                    .replace("known_hosts: known_hosts", f"known_hosts: {ROOT / '.sandbox' / 'known_hosts'}")
                    .replace("compose_project: ../", f"compose_project: {ROOT}/"))
    began = time.monotonic()
    result = inv({**jobs_env, "INVOKE_HOSTS_FILE": str(dead)}, "train.groot", "--input", data, "--output", out,
                 "--modality", "ee", "--host", HOST)
    assert result.returncode == 8 and "S3 unreachable" in result.stderr and "started " not in result.stdout
    assert time.monotonic() - began < 60
    assert keys(s3, out) == []  # no claim, nothing written


def test_a_launch_holds_its_lease_until_its_container_runs_and_reap_sees_it(sandbox):
    """reap racing a launch that is still pulling: the launch command holds a lease from before its
    pull until compose returned, and the host's snapshot (what reap reads) counts it."""
    from remote_training.fleet import snapshot
    from remote_training.fleet.idle import why_busy
    from remote_training.fleet.inventory import load_inventory
    from remote_training.fleet.remote import RemoteRunner
    from remote_training.jobs.compose import LAUNCH_SCRIPT
    from remote_training.jobs.project import MARKER

    runner = RemoteRunner(load_inventory(sandbox["hosts_file"]))
    try:
        proj = f"rt-lease-{time.time_ns()}"
        runner.run("desktop", ["sh", "-c", f'mkdir -p "$1" && : >"$1/{MARKER}"', "sh", proj])
        # In place of compose: report the snapshot reap would take right now, mid-launch.
        during = runner.run("desktop", ["sh", "-c", LAUNCH_SCRIPT, "sh", proj, "", "", "sh", "-c", snapshot.BODY])
        held = snapshot.parse("desktop", during.stdout)
        assert held.leases == 1
        after = snapshot.take(runner, runner.inventory.get("desktop"))
        assert after.leases == 0  # given back once the container runs (here: once the command ended)
        import dataclasses

        from remote_training.fleet.fleet_status import HostStatus

        only_lease = dataclasses.replace(held, containers=())  # other tests' jobs aside: the lease alone
        status = HostStatus("desktop", "static", state="RUNNING", reachable=True, snapshot=only_lease,
                            gpu_util_pct=only_lease.gpu_util_pct)
        assert "launch(es) under way" in why_busy(status, 10)
    finally:
        runner.run("desktop", ["rm", "-rf", proj], check=False)
        runner.close()


def test_a_host_whose_cable_is_pulled_costs_vm_status_one_row_not_the_answer(jobs_env):
    # desktop: a static host, so no provider can tell "off" from "cut off": only SSH says anything
    began = time.monotonic()
    with link_down("desktop"):
        status = inv(jobs_env, "vm.status", "--json", timeout=120)
    took = time.monotonic() - began
    import json

    rows = {row["name"]: row for row in json.loads(status.stdout)}
    assert rows["desktop"]["reachable"] is False and rows["desktop"]["error"], status.stdout
    assert rows["vm-train"]["reachable"] is True and took < 40


@contextmanager
def powered_off(name: str):
    """The VM switched off behind our back (not through the API): its engine, containers and sshd go."""
    from rt_sandbox import fleet

    fleet.stop_host(ROOT, name)
    try:
        yield
    finally:
        fleet.start_host(ROOT, name)


def test_a_vm_powered_off_under_wait_is_said_within_30_s_and_the_record_stays(jobs_env, s3, prefix,
                                                                             cleanup):
    import json

    job = _long_job(jobs_env, s3, prefix, cleanup)
    done, took = _interrupted(jobs_env, [("jobs.wait", job)], lambda: powered_off(HOST))[("jobs.wait", job)]
    assert said_off(done, job) and took < 45, (done.stderr, took)
    # The launch's record is not lost with the machine: the ledger still names the job, its host and output.
    history = inv(jobs_env, "jobs.history", "--json", "--job", job)
    entry = next(e for e in json.loads(history.stdout) if e["job_id"] == job)
    assert entry["host"] == HOST and entry["output"].endswith("/long/")
    # --wait on a launch does the same: bounded, said, the job id given to find it again. (After the first
    # power-off, not beside it: the long job holds the GPU this launch needs.)
    data = f"s3://interim/{prefix}/data/"
    args = ("train.groot", "--input", data, "--output", f"s3://checkpoints/{prefix}/waited/", "--modality", "ee",
            "--exp-name", "w", "--steps", "5000000", "--host", HOST, "--wait")
    done, took = _interrupted(jobs_env, [args], lambda: powered_off(HOST))[args]
    assert said_off(done, started_job(done)) and took < 45, (done.stderr, took)


def said_off(done: subprocess.CompletedProcess, job: str) -> bool:
    """How a power-off reads, depending on what goes first: the host went silent (exit 4, and how to find the
    job again), the container vanished with the machine (exit 5, naming the job and where its launch is
    recorded), or its engine killed the container on the way down (the job's own 137, recorded like any end)."""
    if done.returncode == 4:
        return "stopped answering" in done.stderr and f"inv jobs.wait {job}" in done.stderr
    if done.returncode == 5:
        return f"{job} is gone from {HOST}" in done.stderr and f"jobs.history --job {job}" in done.stderr
    return done.returncode == 137 and f"{job} on {HOST} exited 137" in done.stderr


def test_s3_cut_from_a_running_job_ends_it_said_and_recorded_with_what_it_saved(jobs_env, s3, prefix,
                                                                                cleanup, sandbox):
    """The job's host loses S3 mid-run, under upstream's own train.py and pos3 0.1.0 (the runbook era's lock).

    pos3.sync uploads the output within a second of its start, then every 300 s, and once more when the mirror
    closes; a failed upload ends only pos3's background thread. So the training goes on, its checkpoints land in
    pos3's local mirror on the host (compose mounts the host's ~/.cache), and the program ends when the final
    upload cannot reach S3: boto3's retries give up (connection refused), the error leaves the `with
    pos3.mirror()` block and Python exits 1. jobs.wait says so, and the ledger and run.json (written from here)
    hold that end. (What the cut run saved stays only in the host's cache: a next run on that output starts with
    pos3.sync's download, whose delete_local=True removes local files S3 does not have.)"""
    import json

    data, out = f"s3://interim/{prefix}/data/", f"s3://checkpoints/{prefix}/cut/"
    put(s3, data + "meta/info.json", "{}")
    train = ("train.groot", "--input", data, "--output", out, "--modality", "ee", "--exp-name", "c",
             "--steps", "1000", "--save-steps", "20", "--host", HOST)
    launched = inv(jobs_env, *train)  # 50 saves of one 0.3 s tick each: about 15 s of training
    assert launched.returncode == 0, launched.stdout + launched.stderr
    job = started_job(launched)
    cleanup.append((HOST, job))
    deadline = time.monotonic() + 60  # upstream prints its command line once the input is downloaded
    while "Running command:" not in inv(jobs_env, "jobs.logs", job).stdout and time.monotonic() < deadline:
        time.sleep(0.5)
    netns = _spec(HOST).netns
    rules = [[chain, "-p", "tcp", "-d", "10.213.0.1", "--dport", "9555", "-j", "REJECT"]
             for chain in ("OUTPUT", "FORWARD")]  # the container's packets are forwarded by the host's bridge
    saved = keys(s3, out)  # what pos3's first upload, a second after its start, found then
    for rule in rules:
        subprocess.run(["ip", "netns", "exec", netns, "iptables", "-I", *rule], check=True)
    try:
        waited = inv(jobs_env, "jobs.wait", job, "--timeout", "90", timeout=150)
    finally:
        for rule in rules:
            subprocess.run(["ip", "netns", "exec", netns, "iptables", "-D", *rule], check=True)
    assert waited.returncode == 1 and f"{job} on {HOST} exited 1" in waited.stdout + waited.stderr, \
        waited.stdout + waited.stderr
    errors = inv(jobs_env, "jobs.errors", job).stdout
    assert "Could not connect to the endpoint URL" in errors, errors  # botocore's, from pos3's final upload
    after = keys(s3, out)
    assert set(saved) <= set(after) and "c/checkpoint-1000/config.json" not in after  # no upload after the cut
    local = ssh(sandbox, HOST, f"ls $HOME/.cache/positronic/s3/checkpoints/{prefix}/cut/c/")
    assert "checkpoint-1000" in local.split(), local  # ... yet the training itself ran to its end
    entry = json.loads(inv(jobs_env, "jobs.history", "--json", "--job", job).stdout)[0]
    assert entry["exit_code"] == 1
    record = [k for k in keys(s3, f"s3://checkpoints/{prefix}/") if k.endswith("run.json")]
    body = s3.get_object(Bucket="checkpoints", Key=f"{prefix}/{record[0]}")["Body"].read().decode()
    assert '"exit_code": 1' in body


SPARE = "vm-train3"


@contextmanager
def smi_replaced(name: str, script: str):
    """The host's nvidia-smi stand-in swapped for `script` (a lying or hung GPU tool), then put back."""
    from rt_sandbox.layout import Layout

    path = Layout(ROOT).host_dir(name) / "bin" / "nvidia-smi"
    saved = path.read_text()
    path.write_text("#!/bin/sh\n" + script + "\n")
    try:
        yield path
    finally:
        path.write_text(saved)


def _reap_after_idle_history(env, state) -> dict:
    """vm.reap --dry-run on the spare VM whose history says idle for the whole window: only what the
    host shows now can keep it."""
    import json

    from remote_training.fleet.idle import Sample, SampleStore

    store = SampleStore(state / "idle")
    store.clear(SPARE)
    now = time.time()
    for ago in (150, 90, 30):
        store.add(SPARE, Sample(now - ago, "RUNNING", True, 0, 0, True))
    done = inv(env, "vm.reap", "--idle", "2m", "--dry-run", "--host", SPARE, "--json", extra_env={
        "INVOKE_VM_STATE_DIR": str(state)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)[0]


def test_gpu_readings_out_of_range_and_work_of_unknown_origin_keep_the_vm_and_reap_says_why(
        jobs_env, sandbox, tmp_path):
    from tests.support import ssh

    assert _reap_after_idle_history(jobs_env, tmp_path)["action"] == "would stop"  # the host itself is idle
    for csv, said in [("NVIDIA H100 80GB HBM3, 81559, 0, -5", "utilization.gpu '-5'"),
                      ("NVIDIA H100 80GB HBM3, 81559, 0, 250", "utilization.gpu '250'"),
                      ("NVIDIA H100 80GB HBM3, 0, 0, 0", "memory.total '0'"),
                      ("NVIDIA H100 80GB HBM3, 81559, lots, 0", "memory.used 'lots'"),
                      ("NVIDIA H100 80GB HBM3, 81559, [N/A], 0", "GPU memory in use: unknown")]:
        with smi_replaced(SPARE, f"echo '{csv}'"):
            decision = _reap_after_idle_history(jobs_env, tmp_path)
        assert decision["action"] == "kept" and said in decision["reason"], (csv, decision)
    name = f"rtt-unknown-{time.time_ns()}"
    ssh(sandbox, SPARE, f"docker run -d --name {name} {sandbox['base_image']} sleep 600")
    try:
        decision = _reap_after_idle_history(jobs_env, tmp_path)
        assert decision["action"] == "kept" and f"{name} (unknown origin" in decision["reason"], decision
    finally:
        ssh(sandbox, SPARE, f"docker rm -f {name}")


def test_a_hung_nvidia_smi_is_ended_on_the_host_and_said(jobs_env):
    import json

    marker = f"sleep {6000 + time.time_ns() % 1000}"  # a process name only this test's stand-in runs
    with smi_replaced(SPARE, f"exec {marker}"):
        began = time.monotonic()
        with ThreadPoolExecutor(2) as pool:  # two probes at once: neither leaves its nvidia-smi behind
            probes = list(pool.map(lambda _: inv(jobs_env, "vm.status", "--json", "--host", SPARE, timeout=120),
                                   range(2)))
        took = time.monotonic() - began
        for status in probes:
            assert status.returncode == 0, status.stderr
        row = next(r for r in json.loads(status.stdout) if r["name"] == SPARE)
        time.sleep(4)  # timeout's -k grace
        left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert "nvidia-smi gave no answer within 12 s" in json.dumps(row), row
    assert left.stdout == "", f"hung nvidia-smi left on the host: {left.stdout}"
    assert took < 70


@contextmanager
def sshd_frozen(name: str):
    """The host's sshd stopped dead (SIGSTOP): connections are accepted by the kernel, no banner ever comes."""
    import os
    import signal

    from rt_sandbox.hosts import sshd_alive
    from rt_sandbox.layout import Layout

    pid = sshd_alive(Layout(ROOT), _spec(name))
    assert pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_frozen_sshd_costs_one_line_naming_the_host_and_no_library_noise(jobs_env, s3, prefix,
                                                                           cleanup, tmp_path):
    job = _long_job(jobs_env, s3, prefix, cleanup)
    env = {**jobs_env, "INVOKE_VM_STATE_DIR": str(tmp_path)}
    commands = [("vm.status",), ("jobs.list",), ("jobs.logs", job), ("jobs.wait", job), ("jobs.stop", job),
                ("jobs.progress", job[:-3]), ("jobs.clean", "--dry-run"), ("vm.reap", "--dry-run", "--idle", "1h"),
                ("doctor", "--host", HOST)]
    with sshd_frozen(HOST), ThreadPoolExecutor(len(commands)) as pool:  # at once: each waits out its own bound
        runs = dict(zip(commands, pool.map(lambda args: inv(env, *args, timeout=120), commands)))
    for args, done in runs.items():
        for noise in ("Traceback", "Exception (client)", "paramiko", "Error reading SSH protocol banner\n", "  File "):
            assert noise not in done.stderr, (args, done.stderr)
        failing = [line for line in done.stderr.splitlines() if HOST in line]
        assert len(failing) <= 1 + ("doctor" in args), (args, done.stderr)  # doctor: its ssh and GPU rows
    for args in [("jobs.logs", job), ("jobs.wait", job), ("jobs.stop", job), ("jobs.progress", job[:-3])]:
        done = runs[args]
        assert done.returncode == 4 and f"may be on {HOST}, which did not answer" in done.stderr, (args, done.stderr)
        assert "no job" not in done.stderr, (args, done.stderr)
    # The job ran on untouched.
    assert jobs_json(jobs_env, "--host", HOST)[job]["state"] == "running"


def test_jobs_clean_reports_exactly_what_docker_removed(sandbox, tag):
    """Listed finished, restarted by someone before the removal: docker refuses it, and it is not counted."""
    from remote_training.fleet.inventory import load_inventory
    from remote_training.fleet.remote import RemoteRunner
    from remote_training.jobs import monitor

    runner = RemoteRunner(load_inventory(sandbox["hosts_file"]))
    names = [f"{tag}-{n}" for n in ("a", "b")]
    try:
        for name in names:
            # exits at once the first time; runs on once started again
            runner.run("desktop", ["docker", "run", "--name", name, "--label", f"rt.job={name}", sandbox["base_image"],
                                   "sh", "-c", "[ -e /ran ] && exec sleep 600; : >/ran; exit 3"],
                                   check=False, timeout=60)
        jobs, _ = monitor.list_jobs(runner, [runner.inventory.get("desktop")])
        listed = [j for j in jobs if j.job_id in names]
        assert sorted(j.state for j in listed) == ["exited", "exited"]
        runner.run("desktop", ["docker", "start", names[1]], timeout=60)  # between the listing and the removal
        removed, kept = monitor.remove_finished(runner, listed)
        assert [j.job_id for j in removed] == [names[0]]
        assert [j.job_id for j, _ in kept] == [names[1]] and "cannot remove" in kept[0][1].lower(), kept
    finally:
        runner.run("desktop", ["docker", "rm", "-f", *names], check=False, timeout=60)
        runner.close()


def test_resume_or_force_while_the_run_is_still_written_is_refused_naming_the_job(jobs_env, s3, prefix,
                                                                                cleanup):
    """One live writer per output: run.json names a launch whose container still runs on its host."""
    job = _long_job(jobs_env, s3, prefix, cleanup)
    data, out = f"s3://interim/{prefix}/data/", f"s3://checkpoints/{prefix}/long/"
    again = ("train.groot", "--input", data, "--output", out, "--modality", "ee", "--exp-name", "long", "--steps",
             "5000000", "--host", "vm-train")  # another host: only run.json links the two
    for flag in ("--resume", "--force"):
        refused = inv(jobs_env, *again, flag)
        assert refused.returncode == 8 and "started " not in refused.stdout, refused.stdout + refused.stderr
        assert f"{flag}: {out}long/ is still being written by {job} (it is running on {HOST})" in refused.stderr
        assert f"inv jobs.stop {job}" in refused.stderr
    assert [j for j in jobs_json(jobs_env, "--host", "vm-train").values() if j["output"] == out] == []
    assert inv(jobs_env, "jobs.stop", job).returncode == 0
    resumed = inv(jobs_env, *again, "--resume")  # its writer ended: the run may be joined
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    cleanup.append(("vm-train", started_job(resumed)))


def test_a_race_whose_first_claimant_fails_a_later_check_still_starts_the_other(jobs_env, s3, prefix,
                                                                                cleanup):
    """The launch on the desktop fails its host check (GR00T training needs an H100) whether or not it claimed
    the folder first; the one on vm-train2 then starts: never both refused, never a refusal naming a job
    that does not exist."""
    data = f"s3://interim/{prefix}/data/"
    put(s3, data + "meta/info.json", '{"observation": ".groot_joints"}')
    for round_ in range(2):
        out = f"s3://checkpoints/{prefix}/race{round_}/"
        argv = cli_argv("train.groot", "--input", data, "--output", out, "--modality", "ee",
                        "--exp-name", "same", "--steps", "2", "--save-steps", "1")
        racers = {host: subprocess.Popen([*argv, "--host", host], cwd=ROOT, env=jobs_env, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True) for host in ("desktop", HOST)}
        done = {host: (r.wait(timeout=150), *r.communicate()) for host, r in racers.items()}
        code, stdout, stderr = done[HOST]
        assert code == 0, (round_, done)
        winner = started_job(subprocess.CompletedProcess([], code, stdout, stderr))
        cleanup.append((HOST, winner))
        assert done["desktop"][0] == 8 and "started " not in done["desktop"][1], done["desktop"]
        record = s3.get_object(Bucket="checkpoints", Key=f"{prefix}/race{round_}/.rt-runs/same/run.json")
        launches = __import__("json").loads(record["Body"].read())["launches"]
        assert [e["job_id"] for e in launches] == [winner] and launches[0]["container"], launches
        # the next round needs vm-train2's GPU memory again: this round's job (upstream's own train) ends first
        assert inv(jobs_env, "jobs.wait", winner, timeout=150).returncode == 0


def test_the_loser_of_a_claim_race_waits_for_the_winner_to_start_or_give_it_back(s3, prefix):
    """storage.claim_run against the sandbox's S3: the winner's claim given back lets the loser claim; the
    winner's start recorded (its container) makes the refusal name a job that started."""
    import threading

    from remote_training.records import storage

    for outcome in ("given back", "started"):
        url = f"s3://checkpoints/{prefix}/{outcome.replace(' ', '-')}/.rt-runs/x/run.json"
        storage.claim_run(s3, url, {"job_id": "winner", "user": "a", "host": "vm-train"}, append=False)

        def winner_moves(outcome: str = outcome, url: str = url) -> None:
            time.sleep(1.5)
            if outcome == "given back":
                storage.release_run(s3, url, "winner")
            else:
                storage.update_run(s3, url, "winner", {"container": "c0ffee"})

        threading.Thread(target=winner_moves).start()
        began = time.monotonic()
        try:
            storage.claim_run(s3, url, {"job_id": "loser", "user": "b", "host": "vm-train2"}, append=False, wait=20)
            result = "claimed"
        except storage.ClaimTaken as refused:
            result = refused.message
        took = time.monotonic() - began
        record, _ = storage.read_run(s3, url)
        if outcome == "given back":
            assert result == "claimed" and [e["job_id"] for e in record["launches"]] == ["loser"]
        else:
            assert "claimed a moment ago by winner (a on vm-train), which started" in result, result
            assert [e["job_id"] for e in record["launches"]] == ["winner"]
        assert 1.0 < took < 10, took


def _record_and_container_agree(env, s3, out: str, killed_hard: bool, cleanup) -> str:
    """After an interrupted launch to `out`: what runs there and what the records say. Returns which case."""
    import json

    running = [j for j in jobs_json(env, "--host", HOST).values() if j["output"] == out]
    history = [e for e in json.loads(inv(env, "jobs.history", "--json").stdout) if e.get("output") == out]
    bucket, key = out.removeprefix("s3://").split("/", 1)
    try:
        record = json.loads(s3.get_object(Bucket=bucket, Key=f"{key}.rt-runs/i/run.json")["Body"].read())
    except s3.exceptions.NoSuchKey:
        record = None
    claimed = [e["job_id"] for e in (record or {}).get("launches", [])]
    for job in running:
        cleanup.append((HOST, job["job_id"]))
        inv(env, "jobs.stop", job["job_id"])  # frees the GPU for the next offset
    if running:  # a container: jobs.list and jobs.history both show it, run.json names it
        [job] = running
        assert [e["job_id"] for e in history] == [job["job_id"]] and claimed == [job["job_id"]], (history, claimed)
        if not killed_hard:  # interrupted, not killed: its start was recorded before it left
            assert history[0].get("container"), history
        return "started and recorded"
    if not killed_hard:  # nothing runs: nothing claims the folder or counts in the history
        assert claimed == [] and history == [], (claimed, history)
    return "nothing started"


def test_a_launch_interrupted_at_any_point_leaves_its_container_and_its_record_in_agreement(
        jobs_env, s3, prefix, cleanup, tmp_path):
    import signal

    data = f"s3://interim/{prefix}/data/"
    put(s3, data + "meta/info.json", '{"observation": ".groot_joints"}')
    env = {**jobs_env, "INVOKE_JOBS_LEDGER": str(tmp_path / "ledger.jsonl")}
    seen = {}
    # Offsets spread over the launch (before the claim, around the held compose run, after go); SIGINT gets the
    # most, and kill -9 at each point is also the subject of test_kill_9_before_the_claim_..., which stops the
    # launch at each stage deterministically: each launch here costs about 30 s, all of it inside the sandbox.
    sweep = {"SIGINT": (0.3, 0.8, 1.3, 2.0), "SIGTERM": (0.6, 1.0), "kill -9": (0.8, 2.0)}
    for how, sig in (("SIGINT", signal.SIGINT), ("SIGTERM", signal.SIGTERM), ("kill -9", signal.SIGKILL)):
        for offset in sweep[how]:
            out = f"s3://checkpoints/{prefix}/{how.replace(' ', '')}-{offset}/"
            proc = subprocess.Popen(cli_argv("train.groot", "--input", data, "--output", out, "--modality", "ee",
                                             "--exp-name", "i", "--steps", "5000000", "--host", HOST),
                                    cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(offset)
            proc.send_signal(sig)
            stdout, stderr = proc.communicate(timeout=120)
            assert "Traceback" not in stderr, (how, offset, stderr)
            time.sleep(1)  # a compose run already under way on the host lands
            try:
                case = _record_and_container_agree(env, s3, out, sig == signal.SIGKILL, cleanup)
            except AssertionError as disagree:
                raise AssertionError((how, offset, proc.returncode, stdout[-300:], stderr[-600:], disagree)) from None
            seen.setdefault(how, []).append((offset, proc.returncode, case))
    # -2 and -15: a signal before Python took its handlers (a loaded machine's 0.3 s); nothing had started
    assert all(code in (0, 130, 143, -9, -2, -15) for cases in seen.values() for _, code, _ in cases), seen


# -- a claim left by a launch that never started: taken back by the next launch (claims.py) ------------
def _gone_launcher() -> dict:
    """A launcher that has ended: a real process that recorded itself as a claim does, then exited."""
    import json

    code = "import json; from remote_training.records import launcher; print(json.dumps(launcher.launcher()))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=True)
    return json.loads(done.stdout)


def _plant_claim(s3, run_folder: str, job: str, host: str, launcher: dict) -> None:
    """run.json naming a launch with no recorded start, claimed ten minutes ago by `launcher`."""
    from remote_training.records import storage
    from remote_training.records.ledger import record_url
    from remote_training.records.timestamps import utc

    storage.claim_run(s3, record_url(run_folder), {"job_id": job, "host": host, "user": "ann", "exit_code": None,
                                                   "started": utc(time.time() - 600), "launcher": launcher},
                      append=False)


def test_a_claim_whose_launch_provably_never_started_is_taken_back_in_one_line_and_no_other_is(
        sandbox, jobs_env, s3, prefix, cleanup):
    """Gone launcher and nothing on the host: taken back, no --force. A live launcher (this test's own
    process), or a container with the job's label on the host, keeps the claim and the refusal says why."""
    import os
    import socket
    import uuid

    from remote_training.records import launcher

    data = f"s3://interim/{prefix}/data/"
    put(s3, data + "meta/info.json", '{"observation": ".groot_joints"}')
    gone = _gone_launcher()
    tag = uuid.uuid4().hex[:6]
    jobs = {case: f"groot-train-{tag}-{case}" for case in ("gone", "live", "container")}
    kept = {"live": f"its launcher (pid {os.getpid()} on {socket.gethostname()}) still runs",
            "container": f"its container is on {HOST}"}
    for case, job in jobs.items():
        _plant_claim(s3, f"s3://checkpoints/{prefix}/{case}/c/", job, HOST,
                     launcher.launcher() if case == "live" else gone)
    ssh(sandbox, HOST, f"docker run -d --name {jobs['container']} --label rt.job={jobs['container']} "
                       f"{sandbox['base_image']} sleep 300")
    try:
        for case in ("live", "container"):
            refused = inv(jobs_env, "train.groot", "--input", data, "--output", f"s3://checkpoints/{prefix}/{case}/",
                          "--modality", "ee", "--exp-name", "c", "--steps", "5000000", "--host", HOST)
            assert refused.returncode == 8 and "started " not in refused.stdout, refused.stdout + refused.stderr
            assert f"claimed by the launch of {jobs[case]} on {HOST}" in refused.stderr, refused.stderr
            assert f"not provably gone: {kept[case]}" in refused.stderr, refused.stderr
            assert "took back" not in refused.stdout + refused.stderr
    finally:
        ssh(sandbox, HOST, f"docker rm -f {jobs['container']}")
    out = f"s3://checkpoints/{prefix}/gone/"
    relaunched = inv(jobs_env, "train.groot", "--input", data, "--output", out, "--modality", "ee", "--exp-name", "c",
                     "--steps", "5000000", "--host", HOST)
    assert relaunched.returncode == 0, relaunched.stdout + relaunched.stderr
    job = started_job(relaunched)
    cleanup.append((HOST, job))
    said = [line for line in relaunched.stdout.splitlines() if "took back" in line]
    assert said == [f"preflight: took back the claim of {jobs['gone']} in s3://checkpoints/{prefix}/gone/.rt-runs/c/"
                    f"run.json: its launch never started (its launcher, pid {gone['pid']} on {gone['hostname']}, is "
                    f"gone; nothing of it on {HOST})"], relaunched.stdout
    record = __import__("json").loads(s3.get_object(Bucket="checkpoints", Key=f"{prefix}/gone/.rt-runs/c/run.json")
                                      ["Body"].read())
    assert [e["job_id"] for e in record["launches"]] == [job]
    assert inv(jobs_env, "jobs.stop", job).returncode == 0


def test_a_serverless_claim_whose_job_nebius_never_created_is_taken_back(jobs_env, s3, prefix):
    """The claimed job's name asked of the Nebius API (the stand-in, through the SDK): none, so the claim goes."""
    import uuid

    from tests.support import era_env

    env = {**jobs_env, **era_env("a060cbea")}
    out = f"s3://interim/{prefix}/converted/"
    never = f"positronic-to-lerobot-{uuid.uuid4().hex[:6]}-never"
    gone = _gone_launcher()
    _plant_claim(s3, out, never, "cloud", gone)
    done = inv(env, "dataset.convert", "--host", "cloud", "--dataset", "@positronic.cfg.ds.sim.sim_stack_cubes",
               "--codec", "@positronic.vendors.gr00t.codecs.ee_rot6d_joints", "--output", out, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line for line in done.stdout.splitlines() if "took back" in line] == [
        f"preflight: took back the claim of {never} in s3://interim/{prefix}/.rt-runs/converted/run.json: its launch "
        f"never started (its launcher, pid {gone['pid']} on {gone['hostname']}, is gone; "
        "nothing of it on cloud)"], done.stdout
    job = started_job(done)
    assert inv(env, "jobs.stop", job).returncode == 0


def _host_waits_for(sandbox, event: str) -> subprocess.Popen:
    """A shell on the host that prints `ready`, then `seen` once `event` (host shell text) is true (2 min at most)."""
    config = sandbox["root"] / ".sandbox" / "ssh_config"
    loop = f'echo ready; i=0; while [ $i -lt 2400 ]; do {event} && break; i=$((i+1)); sleep 0.05; done; echo seen'
    watch = subprocess.Popen(["ssh", "-F", str(config), HOST, loop], stdout=subprocess.PIPE, text=True)
    assert watch.stdout.readline().strip() == "ready"
    return watch


def test_kill_9_before_the_claim_after_it_during_the_pull_and_after_go_then_a_relaunch_needs_no_force(
        sandbox, jobs_env, s3, prefix, cleanup, tmp_path):
    """Each kill ends with the container and the records in agreement; where nothing started, the relaunch
    (no --force) takes the claim back in one line, and jobs.history keeps only the launch that ran."""
    import json

    from rt_sandbox.standin_image import tag_for

    data = f"s3://interim/{prefix}/data/"
    put(s3, data + "meta/info.json", '{"observation": ".groot_joints"}')
    env = {**jobs_env, "INVOKE_JOBS_LEDGER": str(tmp_path / "ledger.jsonl")}
    leases = '"$HOME/.rt-leases"'
    seen: dict[str, tuple[str, bool]] = {}
    for stage in ("before the claim", "after the claim", "during the pull", "after go"):
        out = f"s3://checkpoints/{prefix}/{stage.replace(' ', '-')}/"
        bucket, key = out.removeprefix("s3://").split("/", 1)
        run_json = f"{key}.rt-runs/i/run.json"
        watch = None
        if stage == "during the pull":  # the image gone from the host: compose pulls it after `go`
            ssh(sandbox, HOST, f"docker image rm -f {tag_for(ROOT, '4261b1aa')} >/dev/null; "
                               f"mkdir -p {leases}; ls {leases} >/tmp/rt-leases-before")
            watch = _host_waits_for(sandbox, f"ls {leases} | grep -qvxFf /tmp/rt-leases-before")  # its lease: after go
        elif stage == "after go":
            watch = _host_waits_for(sandbox, f'[ -n "$(docker ps -aq --filter label=rt.output={out})" ]')
        argv = ("train.groot", "--input", data, "--output", out, "--modality", "ee", "--exp-name", "i", "--steps",
                "5000000", "--host", HOST)
        proc = subprocess.Popen([sys.executable, "-m", "invoke", *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        if stage == "before the claim":
            time.sleep(0.1)  # Python and Invoke are still loading
        elif stage == "after the claim":
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not keys(s3, f"s3://{bucket}/{run_json}"):
                time.sleep(0.02)
        else:
            assert watch.stdout.readline().strip() == "seen"
        proc.kill()
        proc.communicate(timeout=60)
        if watch:
            watch.kill()
            watch.wait()
        try:
            claimed = json.loads(s3.get_object(Bucket=bucket, Key=run_json)["Body"].read())["launches"][-1]["job_id"]
        except s3.exceptions.NoSuchKey:
            claimed = None
        if stage == "before the claim":
            assert claimed is None, claimed
        if claimed:  # what the killed launch left running on the host lands (or dies) first
            ssh(sandbox, HOST, f"i=0; while pgrep -f -- '[{claimed[0]}]{claimed[1:]}' >/dev/null && [ $i -lt 600 ]; "
                               "do sleep 0.1; i=$((i+1)); done")
        time.sleep(1)
        case = _record_and_container_agree(env, s3, out, True, cleanup)
        again = inv(env, *argv)
        took_back = [line for line in again.stdout.splitlines() if "took back" in line]
        if case == "started and recorded":  # its run holds the folder (its checkpoints, or its claim naming it)
            assert again.returncode == 8 and "already holds a run" in again.stderr and not took_back, again.stderr
        else:
            assert again.returncode == 0, (stage, again.stdout + again.stderr)
            job = started_job(again)
            cleanup.append((HOST, job))
            assert took_back == ([f"preflight: took back the claim of {claimed} in s3://{bucket}/{run_json}: its "
                                  "launch "
                                  f"never started (its launcher, pid {proc.pid} on {__import__('socket').gethostname()}"
                                  f", is gone; nothing of it on {HOST})"] if claimed else []), (stage, again.stdout)
            history = [e["job_id"] for e in json.loads(inv(env, "jobs.history", "--json").stdout)
                       if e.get("output") == out]
            assert history == [job], (stage, history)
            assert inv(env, "jobs.stop", job).returncode == 0
        seen[stage] = (case, bool(took_back))
    assert seen["before the claim"] == ("nothing started", False) and seen["after go"][0] == "started and recorded"
    assert any(taken for _, taken in seen.values()), seen  # at least one kill between the claim and the start


def test_a_gone_launchers_claim_on_a_host_that_does_not_answer_is_kept_naming_the_host(jobs_env, s3, prefix):
    """Nothing is proved about a host that is silent (its cable pulled): the claim stays, and the refusal of a
    launch from another host says which host did not answer."""
    import uuid

    data, out = f"s3://interim/{prefix}/data/", f"s3://checkpoints/{prefix}/silent/"
    put(s3, data + "meta/info.json", '{"observation": ".groot_joints"}')
    job = f"groot-train-{uuid.uuid4().hex[:6]}-silent"
    _plant_claim(s3, out + "c/", job, HOST, _gone_launcher())
    with link_down(HOST):
        refused = inv(jobs_env, "train.groot", "--input", data, "--output", out, "--modality", "ee", "--exp-name", "c",
                      "--steps", "5000000", "--host", "vm-train")
    assert refused.returncode == 8 and "started " not in refused.stdout, refused.stdout + refused.stderr
    assert f"claimed by the launch of {job} on {HOST}" in refused.stderr, refused.stderr
    assert f"not provably gone: {HOST} did not answer" in refused.stderr, refused.stderr
    assert "took back" not in refused.stdout and "Traceback" not in refused.stderr
