"""A claim's launcher, told gone or alive from real processes on this machine (claims.py)."""
from __future__ import annotations

import json
import subprocess
import sys

from remote_training.records import claims, launcher
from remote_training.serverless import jobs as serverless_jobs

IDENTITY = ("import json; from remote_training.records import launcher; "
            "print(json.dumps(launcher.launcher()), flush=True)")


def _child(stay: bool) -> tuple[subprocess.Popen, dict]:
    """A real process that records itself as a launcher would, then stays (or exits)."""
    code = IDENTITY + ("; import sys; sys.stdin.read()" if stay else "")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc, json.loads(proc.stdout.readline())


def test_a_launcher_that_still_runs_keeps_its_claim_and_one_that_ended_does_not():
    proc, who = _child(stay=True)
    try:
        assert who["pid"] == proc.pid and who["machine"] and who["start"] is not None
        assert launcher.launcher_alive(who) == f"its launcher (pid {proc.pid} on {who['hostname']}) still runs"
    finally:
        proc.communicate("")
    assert launcher.launcher_alive(who) is None


def test_a_reused_pid_is_not_taken_for_the_launcher():
    """This process's pid with another start time: a launcher whose pid a later process got."""
    me = launcher.launcher()
    assert launcher.launcher_alive(me) is not None
    assert launcher.launcher_alive({**me, "start": me["start"] - 1}) is None
    assert launcher.launcher_alive({**me, "boot": "another-boot"}) is None  # this machine restarted since


def test_a_launcher_on_another_machine_or_none_recorded_cannot_be_proved_gone():
    proc, who = _child(stay=False)
    proc.wait()
    elsewhere = launcher.launcher_alive({**who, "machine": "0" * 32, "hostname": "ann-laptop"})
    assert elsewhere == ("it was launched on ann-laptop, whose processes only it can see (launch from there to take "
                         "it back)")
    assert launcher.launcher_alive(None) == "it records no launching process (an older launch)"


def test_a_launch_with_a_recorded_start_or_end_is_never_taken_back_and_asks_nothing():
    proc, who = _child(stay=False)
    proc.wait()
    for done in ({"container": "c0ffee"}, {"exit_code": 0}):
        launch = {"job_id": "j", "host": "vm-train", "launcher": who, **done}
        assert claims.never_started(None, None, launch, serverless_jobs.find) == "it started"  # nothing was asked


def test_a_job_id_that_is_not_one_is_never_put_in_a_host_command():
    assert claims._host_traces(None, "vm-train", "x; touch /tmp/p") == \
        "its job id 'x; touch /tmp/p' cannot be looked up on vm-train"
