"""Each containment of the sandbox on its own. Programs that get round the Python guard
(through ctypes) show that the OS layer holds by itself. Attacks a grader run by an ordinary
user must also survive run the sandbox as ``nobody`` in a subprocess."""

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import taxfree
from taxfree.evaluation.sandbox import Limits, SandboxUnavailable, run_program, run_programs

QUICK = Limits(timeout_s=3, cpu_s=3)
AS_ROOT = os.geteuid() == 0
SRC = str(Path(taxfree.__file__).parents[1])
PRINT_PID_NAMESPACE = "import os\nprint(os.readlink('/proc/self/ns/pid'), flush=True)\n"


def namespace_members(namespace: str) -> list[int]:
    """Live (not zombie) processes in the PID namespace ``namespace`` (as ``pid:[inode]``): what a
    sandbox run left behind."""
    members = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != namespace:
                continue
            with open(f"/proc/{entry}/stat") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            members.append(int(entry))
    return members


def nobody_python() -> str | None:
    """An interpreter the user nobody may run (this one may live under root's home), or None."""
    if not AS_ROOT:
        return None
    for candidate in (sys.executable, "/usr/bin/python3"):
        try:
            if subprocess.run([candidate, "-c", "import ctypes"], user="nobody", capture_output=True,
                              cwd="/").returncode == 0:
                return candidate
        except OSError:  # not executable by nobody
            continue
    return None


NOBODY_PYTHON = nobody_python()
as_root_and_nobody = pytest.mark.parametrize("user", [
    "root", pytest.param("nobody", marks=pytest.mark.skipif(
        NOBODY_PYTHON is None, reason="needs root and an interpreter the user nobody may run"))])


def nobody_owns(path: Path, mode: int) -> None:
    path.chmod(mode)
    os.chown(path, pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid)


@pytest.fixture
def nobody_dir():
    """A directory owned by nobody, as an ordinary user's home with its results in it."""
    path = Path(tempfile.mkdtemp(prefix="taxfree-nobody-"))
    nobody_owns(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_as(user: str, program: str, limits: Limits = QUICK, unsafe: bool = False) -> dict:
    """Run ``program`` in the sandbox from a grader process of ``user`` (root: this process);
    the result as a dict, or {"raised": message} when run_program raised."""
    if user == "root":
        try:
            result = run_program(program, limits, unsafe=unsafe)
        except SandboxUnavailable as exc:
            return {"raised": str(exc)}
        return {"status": result.status, "stdout": result.stdout, "stderr": result.stderr}
    driver = textwrap.dedent(f"""
        import json, sys
        from taxfree.evaluation.sandbox import Limits, run_program
        result = run_program(sys.stdin.read(), Limits(**{limits.__dict__!r}), unsafe={unsafe!r})
        print(json.dumps({{"status": result.status, "stdout": result.stdout, "stderr": result.stderr}}))
        """)
    done = subprocess.run([NOBODY_PYTHON, "-c", driver], input=program, capture_output=True, text=True, user=user,
                          cwd="/", env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 0, f"the grader process died: {done.returncode} {done.stderr}"
    return json.loads(done.stdout)


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
               "print(os.readlink('/proc/self/ns/pid'), flush=True)\n"
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
    namespace, made = result.stdout.split()
    made = int(made)
    assert made < limits.max_processes
    assert namespace_members(namespace) == []


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
    result = run_program(PRINT_PID_NAMESPACE + "while True:\n    pass\n", Limits(timeout_s=1.5))
    assert result.status == "timeout" and result.returncode is None
    assert 1.5 <= time.monotonic() - start < 5
    assert namespace_members(result.stdout.strip()) == []


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


# ---- attacks on the machine the grader runs on, as root and as an ordinary user ------------------

LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"  # round the Python guard


def read_with_libc(path: str) -> str:
    """A program that prints the first bytes of ``path`` when it can read it, else 'unreadable'."""
    return (LIBC + f"fd = libc.open({path.encode()!r}, os.O_RDONLY)\n"
            "buffer = ctypes.create_string_buffer(64)\n"
            "print(buffer.raw[:libc.read(fd, buffer, 64)].decode() if fd >= 0 else 'unreadable')\n")


@pytest.mark.skipif(not AS_ROOT, reason="a root-only file needs root to plant")
@pytest.mark.parametrize("path", ["/etc/shadow", "ssh-key"])
def test_root_only_files_are_unreadable(path, tmp_path):
    if path == "ssh-key":  # a private key of the user running the grader
        key = tmp_path / ".ssh" / "id_ed25519"
        key.parent.mkdir(mode=0o700)
        key.write_text("-----BEGIN OPENSSH PRIVATE KEY----- secret")
        key.chmod(0o600)
        path = str(key)
    result = run_program(read_with_libc(path) + f"print(open({path!r}).read())\n", QUICK)
    assert result.stdout.startswith("unreadable") and "secret" not in result.stdout + result.stderr
    assert result.status == "error"


@as_root_and_nobody
def test_only_the_interpreter_is_visible(user, nobody_dir):
    """World-readable files of the grader's user (results, configs) are not there at all."""
    results = nobody_dir / "results.csv"
    results.write_text("model,score\n")
    nobody_owns(results, 0o644)
    seen = run_as(user, read_with_libc(str(results)) + "import json\nprint(json.dumps(os.listdir('/')))\n"
                  "print(os.path.exists('/etc/passwd'), os.path.exists('/home'))\n")
    assert seen["status"] == "passed", seen
    unreadable, listing, others = seen["stdout"].splitlines()
    assert unreadable == "unreadable"
    # The interpreter's own prefixes (wherever the clone lives) are there; nothing else of theirs is.
    prefixes = {Path(path).parts[1] for path in (sys.prefix, sys.base_prefix)}
    assert set(json.loads(listing)) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc",
                                        "sandbox", "sbin", "tmp", "usr", "var", *prefixes}
    assert others == "False False"


@as_root_and_nobody
def test_nothing_written_to_shared_temp_dirs_survives(user):
    """A secret copied to /tmp or /dev/shm stays in the sample's private tmpfs, which is size-limited."""
    leak = f"taxfree-leak-{secrets.token_hex(8)}"
    program = (LIBC + textwrap.dedent(f"""
        for path in (b"/tmp/{leak}", b"/var/tmp/{leak}", b"/dev/shm/{leak}"):
            fd = libc.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            assert fd >= 0 and libc.write(fd, b"secret", 6) == 6
            libc.close(fd)
        fd, written, chunk = libc.open(b"/dev/shm/{leak}-fill", os.O_WRONLY | os.O_CREAT, 0o644), 0, bytes(1 << 20)
        while (n := libc.write(fd, chunk, len(chunk))) > 0:
            written += n
        print(written)
        """))
    limits = Limits(timeout_s=5, cpu_s=5, tmp_bytes=4 * 1024**2, max_file_bytes=64 * 1024**2)
    seen = run_as(user, program, limits)
    assert seen["status"] == "passed", seen
    assert int(seen["stdout"]) <= limits.tmp_bytes
    for shared in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not list(Path(shared).glob(f"{leak}*"))


@as_root_and_nobody
def test_results_files_cannot_be_overwritten(user, nobody_dir):
    results = nobody_dir / "scores.jsonl"
    results.write_text('{"passed": false}\n')
    nobody_owns(results, 0o644)  # the grader's user's own file
    seen = run_as(user, LIBC + f"print(libc.open({str(results).encode()!r}, os.O_WRONLY | os.O_TRUNC))\n")
    assert seen["stdout"] == "-1\n"
    assert results.read_text() == '{"passed": false}\n'


@as_root_and_nobody
def test_kill_all_reaches_nothing_outside(user):
    """kill(-1, SIGKILL) from the program: the grader and the user's other processes live on."""
    victim = subprocess.Popen(["sleep", "30"], user=user)
    try:
        seen = run_as(user, LIBC + "libc.kill(-1, 9)\nprint('after')\n")  # the program's own kill may end it
        assert seen["status"] in ("passed", "error")
        assert victim.poll() is None, "another process of the user was killed"
    finally:
        victim.kill()
        victim.wait()


@as_root_and_nobody
def test_daemons_do_not_outlive_the_sample(user):
    program = PRINT_PID_NAMESPACE + LIBC + textwrap.dedent("""
        if libc.fork() == 0:
            libc.setsid()
            if libc.fork() == 0:
                libc.sleep(60)
            libc._exit(0)
        libc.sleep(1)
        """)
    seen = run_as(user, program)
    namespace = seen["stdout"].strip()
    assert namespace.startswith("pid:[") and namespace != os.readlink("/proc/self/ns/pid")
    assert namespace_members(namespace) == []


def test_without_namespaces_the_sandbox_refuses_unless_allowed():
    """Root without capabilities (a locked-down container) cannot make namespaces."""
    if not AS_ROOT:
        pytest.skip("needs root to drop its capabilities")
    driver = textwrap.dedent("""
        import sys
        from taxfree.evaluation.sandbox import SandboxUnavailable, run_program
        try:
            run_program("print('ran')")
        except SandboxUnavailable as exc:
            print("refused:", "unsafe_code_execution" in str(exc))
        print(run_program("print('ran')", unsafe=True).stdout.strip())
        """)
    done = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", sys.executable, "-c", driver],
                          capture_output=True, text=True, env={"PYTHONPATH": SRC}, timeout=60)
    assert done.stdout.split("\n")[:2] == ["refused: True", "ran"], done.stderr


def test_an_interpreter_under_tmp_stays_visible(tmp_path):
    """A virtualenv under /tmp (a clone there) is not hidden by the sample's private /tmp: its packages load."""
    venv = Path(tempfile.mkdtemp(dir="/tmp")) / "venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
        (venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" /
         "marker_under_tmp.py").write_text("VALUE = 42\n")
        probe = ("import json\nfrom taxfree.evaluation.sandbox import run_program, Limits\n"
                 "r = run_program('import marker_under_tmp; print(marker_under_tmp.VALUE)', Limits(timeout_s=10))\n"
                 "print(json.dumps([r.status, r.stdout.strip()]))\n")
        env = {**os.environ, "PYTHONPATH": str(Path(taxfree.__file__).parents[1])}
        out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], env=env, capture_output=True, text=True,
                             check=True).stdout
        assert json.loads(out.splitlines()[-1]) == ["passed", "42"]
    finally:
        shutil.rmtree(venv.parent)
