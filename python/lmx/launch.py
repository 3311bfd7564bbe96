"""Launches a program as several local processes that form one distributed group.

    python -m lmx.launch -n 4 train.py --epochs 3

Each process gets the environment ``mx.distributed.init()`` reads (``MLX_RANK``
and ``MLX_HOSTFILE``, the names mlx.launch uses, so programs written for MLX run
unchanged) and talks to the others over TCP on 127.0.0.1 with lmx's ring
backend. A ``.py`` program runs under this Python; anything else runs as a
command. When a process fails, the others are stopped and its exit status is
returned.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def free_ports(count, host="127.0.0.1"):
    """Ports nothing listens on now (held open together, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def write_hostfile(path, count, starting_port=None, host="127.0.0.1"):
    ports = list(range(starting_port, starting_port + count)) if starting_port else free_ports(count, host)
    with open(path, "w") as f:
        json.dump([[f"{host}:{p}"] for p in ports], f)


def command_for(program, args):
    if program.endswith(".py"):
        return [sys.executable, program, *args]
    return [program, *args]


def run(count, command, starting_port=None, verbose=False):
    """Runs `command` as `count` ranks; returns the first failing exit status, or 0."""
    with tempfile.TemporaryDirectory(prefix="lmx-launch-") as tmp:
        hostfile = os.path.join(tmp, "hostfile.json")
        write_hostfile(hostfile, count, starting_port)
        procs = []
        for rank in range(count):
            env = dict(os.environ, MLX_RANK=str(rank), MLX_HOSTFILE=hostfile)
            if verbose:
                print(f"[lmx.launch] rank {rank}: {' '.join(command)}", file=sys.stderr)
            procs.append(subprocess.Popen(command, env=env))
        status = 0
        try:
            while any(p.poll() is None for p in procs):
                failed = [p.returncode for p in procs if p.returncode not in (None, 0)]
                if failed:
                    status = failed[0]
                    break
                time.sleep(0.05)
        except KeyboardInterrupt:
            status = 130
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if status == 0:
            status = next((p.returncode for p in procs if p.returncode != 0), 0)
        return status


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m lmx.launch", description="Run a program as a local group of distributed processes."
    )
    parser.add_argument("-n", "--nproc", type=int, default=1, help="number of processes (default 1)")
    parser.add_argument("--backend", default="ring", choices=["ring", "any"], help="communication backend")
    parser.add_argument("--starting-port", type=int, default=None, help="first of n consecutive ports to use")
    parser.add_argument("--verbose", action="store_true", help="print each process's command")
    parser.add_argument("program", help="a .py file, or a command")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the program")
    opts = parser.parse_args(argv)
    if opts.nproc < 1:
        parser.error("-n must be at least 1")
    return run(opts.nproc, command_for(opts.program, opts.args), opts.starting_port, opts.verbose)


if __name__ == "__main__":
    sys.exit(main())
