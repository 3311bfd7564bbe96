"""mx.distributed: a process on its own is a group of one (every backend), and
groups of several local processes started by ``python -m lmx.launch`` (lmx's
ring backend) run the collectives, send/recv, their gradients and
nn.average_gradients; a process that leaves makes the others fail, not hang."""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import BACKEND, mx

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")


def test_single_process_is_a_group_of_one():
    group = mx.distributed.init()
    assert group.rank() == 0 and group.size() == 1
    assert mx.distributed.is_available()
    x = mx.arange(6).reshape(2, 3)
    for op in (mx.distributed.all_sum, mx.distributed.all_max, mx.distributed.all_min,
               mx.distributed.all_gather, mx.distributed.sum_scatter):
        np.testing.assert_array_equal(np.array(op(x)), np.array(x))
        np.testing.assert_array_equal(np.array(op(x, group=group)), np.array(x))
    with pytest.raises(ValueError):
        mx.distributed.send(x, 0)
    with pytest.raises(ValueError):
        mx.distributed.recv_like(x, 0)


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's environment and messages")
def test_strict_init_without_a_launcher_raises():
    env = {k: v for k, v in os.environ.items() if k not in ("MLX_RANK", "MLX_HOSTFILE")}
    code = f"import {mx.__name__} as mx\nmx.distributed.init(strict=True)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "Couldn't initialize any backend" in out.stderr


def launch(n, case, tmp_path=None, hostfile=None):
    import lmx

    env = dict(os.environ, LMX_DISTRIBUTED_TIMEOUT="30")
    package_root = os.path.dirname(os.path.dirname(lmx.__file__))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "lmx.launch", "-n", str(n), WORKER, case]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.skipif(BACKEND != "lmx", reason="runs lmx's launcher and ring backend")
@pytest.mark.parametrize(
    "n,case",
    [(2, "collectives"), (3, "collectives"), (4, "collectives"), (2, "point_to_point"), (3, "point_to_point"),
     (3, "gradients"), (3, "errors")],
)
def test_groups_of_processes(n, case):
    out = launch(n, case)
    assert out.returncode == 0, out.stdout + out.stderr
    for r in range(n):
        assert f"rank {r} of {n}: {case} ok" in out.stdout, out.stdout + out.stderr


@pytest.mark.skipif(BACKEND != "lmx", reason="runs lmx's launcher and ring backend")
def test_a_departed_peer_is_an_error_not_a_hang():
    out = launch(3, "peer_exits")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("peer exit detected") == 2


@pytest.mark.skipif(BACKEND != "lmx", reason="lmx's hostfile messages")
def test_bad_hostfiles_name_the_file(tmp_path):
    cases = {"not json": "{", "no ranks": "[]", "bad entry": "[1, 2]", "bad address": '["localhost"]'}
    for what, text in cases.items():
        path = tmp_path / "hosts.json"
        path.write_text(text if what != "bad address" else '["nohostport", "127.0.0.1:1"]')
        env = dict(os.environ, MLX_RANK="0", MLX_HOSTFILE=str(path), LMX_DISTRIBUTED_TIMEOUT="2")
        code = f"import {mx.__name__} as mx\nmx.distributed.init()"
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode != 0, what
        assert "[distributed]" in out.stderr, (what, out.stderr)
    env = dict(os.environ, MLX_RANK="5", MLX_HOSTFILE=str(path))
    path.write_text('["127.0.0.1:1", "127.0.0.1:2"]')
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "MLX_RANK" in out.stderr
