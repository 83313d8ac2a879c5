"""A throwaway PostgreSQL server for the metadata tests: Debian's postgresql package
(installed by scripts/setup.sh), a fresh cluster in a temporary directory, listening on
127.0.0.1 only, trust auth for local connections, stopped and deleted afterwards.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user.
"""

import glob
import os
import shutil
import subprocess
import tempfile
import uuid

from support.servers import free_port


def find_bin_dir() -> str:
    """Directory with initdb and pg_ctl: PG_BIN, Debian's versioned directory, or PATH."""
    candidates = [os.environ.get("PG_BIN", "")] + sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if directory and os.path.exists(os.path.join(directory, "initdb")):
            return directory
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found: run ./scripts/setup.sh, "
                       "which installs Debian's postgresql package")


class PostgresServer:
    def __init__(self):
        self.bin = find_bin_dir()
        self.port = free_port()
        self.root = tempfile.mkdtemp(prefix="meshkit-pg-")
        self.data = os.path.join(self.root, "data")
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o700)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run(self.as_user + list(args), check=True, capture_output=True, timeout=120)

    def start(self) -> "PostgresServer":
        self._run(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        self.resume()
        return self

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL (asyncpg driver)."""
        name = "meshkit_" + uuid.uuid4().hex[:12]
        self._run(os.path.join(self.bin, "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", name)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def halt(self) -> None:
        """Stop the server at once (clients' connections drop), keeping its data: resume() restarts it."""
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -F"  # -F: no fsync, a test cluster
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.root, "log"),
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        try:
            self.halt()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
