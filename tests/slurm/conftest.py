"""The tests marked ``slurm`` run against a real cluster: the one-node cluster of
``make slurm-up`` (tools/slurm/up.sh), found through ``$SLURM_CONF`` or
``$AFG_SLURM_DIR/slurm.conf`` (default /tmp/afg-slurm). Without one they are skipped — except under
``make slurm-test`` (``AFG_REQUIRE_SLURM=1``), where a missing cluster fails them."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _slurm_conf() -> Path | None:
    env = os.environ.get("SLURM_CONF")
    conf = Path(env) if env else Path(os.environ.get("AFG_SLURM_DIR", "/tmp/afg-slurm")) / "slurm.conf"
    return conf if conf.is_file() else None


@pytest.fixture(scope="session")
def cluster() -> str:
    """The node's ``sinfo`` line; jobs get this checkout on their ``PYTHONPATH`` (and this
    Python: submitit runs ``sys.executable``)."""
    conf = _slurm_conf()
    why = None
    if conf is None or shutil.which("sinfo") is None:
        why = "no SLURM cluster (make slurm-up)"
    else:
        os.environ["SLURM_CONF"] = str(conf)
        out = subprocess.run(["sinfo", "-h", "-o", "%P %a %D %T %N %c %m"], capture_output=True, text=True)
        if out.returncode != 0 or not out.stdout.strip():
            why = f"sinfo fails: {(out.stderr or out.stdout).strip()}"
    if why is not None:
        if os.environ.get("AFG_REQUIRE_SLURM") == "1":
            pytest.fail(f"make slurm-test: {why}")
        pytest.skip(why)
    paths = [str(ROOT), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # torchrun
    os.environ.setdefault("AFG_REFERENCE_DIR", str(ROOT.parent / "shared" / "reference"))
    print("\n$ sinfo\n" + subprocess.run(["sinfo"], capture_output=True, text=True).stdout)
    return out.stdout.strip()
