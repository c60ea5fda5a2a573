"""The command provider: a failing power script is an error, never a state (real `sh -c` commands)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from remote_training.errors import ExitCode, ProviderError
from remote_training.fleet.inventory import parse_inventory
from remote_training.fleet.providers import State, provider_for
from tests.support import run_cli


def _provider(tmp_path: Path, state: str, start: str = "true", stop: str = "true"):
    text = ("hosts:\n  cmd:\n    ssh: root@10.0.0.7\n    gpu_memory_gb: 80\n    provider:\n      type: command\n"
            f"      start: {json.dumps(start)}\n      stop: {json.dumps(stop)}\n      state: {json.dumps(state)}\n"
            "      timeout: 10\n")
    inv = parse_inventory(text, tmp_path / "hosts.yaml")
    return provider_for(inv.get("cmd"), inv)


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and "(fix: " in text, text
    return text


def test_state_command_crashing_silently_is_an_error_not_stopped(tmp_path):
    vm = _provider(tmp_path, "exit 3")
    with pytest.raises(ProviderError) as caught:
        vm.state()
    text = _one_line(caught.value)
    assert "cmd: provider state command `exit 3` exited 3 with no output" in text
    assert caught.value.exit_code == ExitCode.PROVIDER


def test_state_command_that_fails_after_printing_running_is_not_trusted(tmp_path):
    vm = _provider(tmp_path, "echo running; echo 'token expired' >&2; exit 1")
    with pytest.raises(ProviderError) as caught:
        vm.state()
    text = _one_line(caught.value)
    assert "exited 1: token expired" in text and "RT_HOST=cmd sh -c" in text


def test_stderr_tail_is_the_last_line(tmp_path):
    vm = _provider(tmp_path, "printf 'first\\nsecond\\n\\nlast words\\n' >&2; exit 4")
    with pytest.raises(ProviderError) as caught:
        vm.state()
    assert "exited 4: last words (fix:" in _one_line(caught.value)


@pytest.mark.parametrize("script,expected", [
    ("echo banana", "printed 'banana', not a state"),
    ("echo unknown", "printed 'unknown', not a state"),
    ("true", "printed nothing"),
])
def test_unknown_or_missing_state_word_is_an_error(tmp_path, script, expected):
    vm = _provider(tmp_path, script)
    with pytest.raises(ProviderError) as caught:
        vm.state()
    text = _one_line(caught.value)
    assert expected in text and "running" in text.split("(fix: ")[1]


@pytest.mark.parametrize("word,state", [("running", State.RUNNING), ("STOPPED", State.STOPPED),
                                        ("up", State.RUNNING), ("off", State.STOPPED),
                                        ("starting", State.STARTING), ("stopping", State.STOPPING)])
def test_known_state_words_and_address(tmp_path, word, state):
    status = _provider(tmp_path, f"echo {word} 10.0.0.8").state()
    assert (status.state, status.address) == (state, "10.0.0.8")


def test_stop_with_a_failing_state_command_stops_nothing_and_fails(tmp_path):
    marker = tmp_path / "stop-ran"
    vm = _provider(tmp_path, "exit 2", stop=f"touch {marker}")
    with pytest.raises(ProviderError, match="state command"):
        vm.stop()
    assert not marker.exists()


def test_failing_stop_command_is_an_error(tmp_path):
    vm = _provider(tmp_path, "echo running", stop="echo 'API quota exceeded' >&2; exit 5")
    with pytest.raises(ProviderError) as caught:
        vm.stop()
    text = _one_line(caught.value)
    assert "provider stop command" in text and "exited 5: API quota exceeded" in text


def test_failing_start_command_is_an_error(tmp_path):
    vm = _provider(tmp_path, "echo stopped", start="echo 'no capacity' >&2; exit 6")
    with pytest.raises(ProviderError) as caught:
        vm.start()
    assert "provider start command" in _one_line(caught.value) and "exited 6: no capacity" in str(caught.value)


def test_vm_stop_cli_reports_the_failure_not_success(tmp_path):
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("hosts:\n  cmd:\n    ssh: root@10.0.0.7\n    gpu_memory_gb: 80\n    provider:\n"
                     "      type: command\n      start: 'true'\n      stop: 'true'\n      state: 'exit 3'\n")
    import os

    done = run_cli("vm.stop", "cmd", "--force", timeout=60,
                   env={**os.environ, "INVOKE_HOSTS_FILE": str(hosts), "INVOKE_VM_STATE_DIR": str(tmp_path)})
    assert done.returncode == ExitCode.PROVIDER, done.stderr
    assert done.stdout == "" and "STOPPED" not in done.stderr
    assert done.stderr.strip() == ("error: cmd: provider state command `exit 3` exited 3 with no output "
                                   "(fix: run it by hand (RT_HOST=cmd sh -c 'exit 3') and fix it or "
                                   "provider.state in hosts.yaml)")
