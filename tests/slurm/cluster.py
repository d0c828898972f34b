"""A one-node SLURM cluster on this machine, from Debian's slurm-wlm and munge, for the tests.

munged, slurmctld and slurmd run as root from a generated ``slurm.conf`` (own
ports, ``proctrack/linuxproc``, ``task/none``, ``select/cons_tres``), with every
spool, state, log and pid file under one temporary directory; ``stop`` ends them
by their pid files.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.distributed.harness import free_port

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "scancel", "scontrol", "sinfo", "srun")


def missing_programs() -> list[str]:
    return [name for name in DAEMONS if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]


def _program(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


class Cluster:
    """Start with :meth:`start`; submit jobs with :meth:`sbatch`; always :meth:`stop`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.pid_files = {
            "slurmd": root / "slurmd.pid", "slurmctld": root / "slurmctld.pid", "munged": root / "munge" / "munged.pid"
        }

    # ------------------------------------------------------------------ daemons
    def start(self, timeout_s: float = 60) -> None:
        munge = self.root / "munge"
        for directory in (munge, self.root / "state", self.root / "spool", self.root / "log"):
            directory.mkdir(parents=True, exist_ok=True)
        munge.chmod(0o700)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        socket_path = munge / "munge.socket"
        subprocess.run(
            [_program("munged"), "--force", f"--key-file={key}", f"--socket={socket_path}",
             f"--pid-file={self.pid_files['munged']}", f"--log-file={munge / 'munged.log'}",
             f"--seed-file={munge / 'munged.seed'}"],
            check=True, capture_output=True, text=True, timeout=30,
        )
        host = socket.gethostname()
        memory_mib = max(int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20) - 1024, 1024)
        settings = {
            "ClusterName": "topodist-test",
            "SlurmctldHost": host,
            "SlurmctldPort": free_port(),
            "SlurmdPort": free_port(),
            "AuthType": "auth/munge",
            "AuthInfo": f"socket={socket_path}",
            "CredType": "cred/munge",
            "SlurmUser": "root",
            "SlurmdUser": "root",
            "StateSaveLocation": self.root / "state",
            "SlurmdSpoolDir": self.root / "spool",
            "SlurmctldPidFile": self.pid_files["slurmctld"],
            "SlurmdPidFile": self.pid_files["slurmd"],
            "SlurmctldLogFile": self.root / "log" / "slurmctld.log",
            "SlurmdLogFile": self.root / "log" / "slurmd.log",
            "ProctrackType": "proctrack/linuxproc",
            "TaskPlugin": "task/none",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_CPU",
            "MpiDefault": "none",
            "ReturnToService": 2,
            "KillWait": 5,
            "JobAcctGatherType": "jobacct_gather/none",
            "AccountingStorageType": "accounting_storage/none",
            "SchedulerType": "sched/backfill",
        }
        lines = [f"{key}={value}" for key, value in settings.items()]
        lines.append(f"NodeName={host} CPUs={os.cpu_count()} RealMemory={memory_mib} State=UNKNOWN")
        lines.append("PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP")
        self.conf.write_text("\n".join(lines) + "\n")
        for daemon in ("slurmctld", "slurmd"):
            subprocess.run([_program(daemon), "-f", str(self.conf)], env=self.env, check=True, timeout=30)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = subprocess.run(
                [_program("sinfo"), "--noheader", "--format=%t"], env=self.env, capture_output=True, text=True
            ).stdout.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        raise RuntimeError(f"the test cluster's node is {state!r}, not idle, after {timeout_s} s: see {self.root / 'log'}")

    def stop(self) -> None:
        """Cancel every job, then end slurmd, slurmctld and munged by their pid files."""
        if shutil.which("scancel"):
            subprocess.run([_program("scancel"), "--full", "--user=root"], env=self.env, capture_output=True, timeout=30)
        for name in ("slurmd", "slurmctld", "munged"):
            pid_file = self.pid_files[name]
            if not pid_file.exists():
                continue
            pid = int(pid_file.read_text().split()[0])
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.2)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

    # --------------------------------------------------------------------- jobs
    def sbatch(self, arguments: list[str], cwd: Path, env: dict | None = None) -> str:
        result = subprocess.run(
            [_program("sbatch"), "--parsable", *arguments], cwd=cwd, env={**self.env, **(env or {})},
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().split(";")[0]

    def job(self, job_id: str) -> dict:
        """``scontrol show job`` as a dict (``JobState``, ``ExitCode``, ``Restarts``, ...)."""
        text = subprocess.run(
            [_program("scontrol"), "show", "job", job_id], env=self.env, capture_output=True, text=True, timeout=30
        ).stdout
        return dict(item.split("=", 1) for item in text.split() if "=" in item)

    def wait(self, job_id: str, states=("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"), timeout_s=300):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            info = self.job(job_id)
            if info.get("JobState") in states:
                return info
            time.sleep(1)
        raise TimeoutError(f"job {job_id} still {self.job(job_id).get('JobState')} after {timeout_s} s")

    def scontrol(self, *arguments: str) -> None:
        subprocess.run([_program("scontrol"), *arguments], env=self.env, check=True, capture_output=True, timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
