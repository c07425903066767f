"""Each containment of the sandbox on its own. Programs that get round the Python guard
(through ctypes) show that the OS layer holds by itself."""

import os
import socket
import time

import pytest

from taxfree.evaluation.sandbox import Limits, run_program, run_programs

QUICK = Limits(timeout_s=3, cpu_s=3)
AS_ROOT = os.geteuid() == 0


def session_members(sid: int) -> list[int]:
    """Live (not zombie) processes in session ``sid``: what a sandbox run left behind."""
    members = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            members.append(int(entry))
    return members


def test_passing_program_passes_and_sees_only_its_scratch_dir(tmp_path):
    result = run_program(
        "import os, tempfile\n"
        "open('out.txt', 'w').write('kept')\n"
        "with tempfile.NamedTemporaryFile() as handle: handle.write(b'x')\n"
        "print(os.getcwd() == os.environ['HOME'] == os.environ['TMPDIR'], open('out.txt').read())\n",
        scratch_root=str(tmp_path))
    assert (result.status, result.passed, result.returncode) == ("passed", True, 0)
    assert result.stdout == "True kept\n"
    assert 0 < result.duration_s < QUICK.timeout_s
    assert list(tmp_path.iterdir()) == [], "scratch dir not cleaned up"


@pytest.mark.parametrize(("program", "status"), [
    ("assert 1 + 1 == 3\n", "failed"),
    ("import sys\nsys.exit(1)\n", "failed"),
    ("1 / 0\n", "error"),
    ("def broken(:\n", "error"),
])
def test_failures_and_errors_are_told_apart(program, status):
    result = run_program(program, QUICK)
    assert result.status == status and not result.passed
    assert "sandbox.py" not in result.stderr, "traceback should start at the program"


def test_write_outside_scratch_dir_fails(tmp_path):
    target = tmp_path / "escaped.txt"
    result = run_program(f"open({str(target)!r}, 'w').write('x')\n", QUICK)
    assert result.status == "error" and "PermissionError" in result.stderr
    result = run_program(f"import pathlib\npathlib.Path({str(target)!r}).write_text('x')\n", QUICK)
    assert result.status == "error" and "PermissionError" in result.stderr
    result = run_program(f"import os\nos.remove({str(tmp_path)!r} + '/../x')\n", QUICK)
    assert result.status == "error" and "PermissionError" in result.stderr
    assert not target.exists()


@pytest.mark.skipif(not AS_ROOT, reason="the OS-level barrier is the privilege drop, which needs root")
def test_write_outside_scratch_dir_fails_at_os_level_too(tmp_path):
    target = tmp_path / "escaped.txt"
    program = ("import ctypes, os\n"
               "libc = ctypes.CDLL(None, use_errno=True)\n"
               f"fd = libc.open({str(target).encode()!r}, os.O_WRONLY | os.O_CREAT, 0o644)\n"
               "assert fd < 0, 'opened for writing'\n")
    assert run_program(program, QUICK).status == "passed"
    assert not target.exists()


def test_network_connection_fails():
    with socket.socket() as server:  # a listener the program could otherwise reach
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        result = run_program(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n", QUICK)
        assert result.status == "error" and "network access is not allowed" in result.stderr
        # Round the guard: the network namespace alone must stop it.
        result = run_program(f"import _socket\n_socket.socket().connect(('127.0.0.1', {port}))\n", QUICK)
        namespaced = run_program("import os\nprint(os.readlink('/proc/self/ns/net'))\n", QUICK)
        if namespaced.stdout.strip() == os.readlink("/proc/self/ns/net"):
            pytest.skip("no network namespace here: the socket guard is the only barrier")
        assert result.status == "error" and "OSError" in result.stderr


def test_fork_bomb_is_contained_and_returns_promptly():
    limits = Limits(timeout_s=3, cpu_s=3, max_processes=8)
    program = ("import ctypes, os, time\n"
               "libc = ctypes.CDLL(None)\n"  # os.fork is blocked by the guard; go round it
               "print(os.getpid(), flush=True)\n"
               "made = 0\n"
               "for _ in range(64):\n"
               "    pid = libc.fork()\n"
               "    if pid == 0:\n"
               "        time.sleep(60)\n"
               "    if pid < 0:\n"
               "        break\n"
               "    made += 1\n"
               "print(made, flush=True)\n"
               "while True:\n"
               "    libc.fork()\n")
    start = time.monotonic()
    result = run_program(program, limits)
    assert time.monotonic() - start < limits.timeout_s + 5
    assert result.status == "timeout"
    sid, made = map(int, result.stdout.split())
    assert made < limits.max_processes
    assert session_members(sid) == []


def test_os_spawning_is_blocked_by_the_guard():
    assert run_program("import os\nos.fork()\n", QUICK).status == "error"


@pytest.mark.parametrize("call", [
    "os.system('echo spawned')",
    "os.popen('echo spawned').read()",
    "subprocess.run(['echo', 'spawned'])",
    "subprocess.check_output('echo spawned', shell=True)",
    "os.execv('/bin/echo', ['echo', 'spawned'])",
    "os.kill(os.getppid(), 9)",
])
def test_process_spawning_is_blocked(call):
    result = run_program(f"import os, subprocess\n{call}\n", QUICK)
    assert result.status == "error" and "PermissionError" in result.stderr
    assert "spawned" not in result.stdout


def test_infinite_loop_times_out_and_leaves_no_process():
    start = time.monotonic()
    result = run_program("import os\nprint(os.getpid(), flush=True)\nwhile True:\n    pass\n", Limits(timeout_s=1.5))
    assert result.status == "timeout" and result.returncode is None
    assert 1.5 <= time.monotonic() - start < 5
    assert session_members(int(result.stdout)) == []


def test_cpu_limit_reads_as_timeout():
    result = run_program("while True:\n    pass\n", Limits(timeout_s=20, cpu_s=1))
    assert result.status == "timeout" and result.duration_s < 10


@pytest.mark.parametrize("bomb", [
    "block = bytearray(8 * 1024**3)\n",
    "blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024**2))\n",
])
def test_memory_bomb_fails(bomb):
    result = run_program(bomb, Limits(timeout_s=10, memory_bytes=512 * 1024**2))
    assert result.status == "error" and "MemoryError" in result.stderr


def test_file_size_is_limited():
    result = run_program("open('big', 'wb').write(bytes(2 * 1024**2))\n", Limits(max_file_bytes=1024**2))
    assert result.status == "error" and "File too large" in result.stderr


def test_parallel_runs_keep_input_order():
    results = run_programs([f"print({i})\nassert {i} % 3\n" for i in range(8)], QUICK, workers=2)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(8)]
    assert [r.passed for r in results] == [i % 3 != 0 for i in range(8)]
