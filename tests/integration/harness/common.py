"""What every part of the harness shares: the binaries, addresses, deadlines, id patterns, ports."""

import os
import re
import socket
import time
import uuid


CONFABD = os.environ.get("CONFABD") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin", "confabd"))
CONFABCTL = os.environ.get("CONFABCTL") or os.path.join(os.path.dirname(CONFABD), "confabctl")
HOST = "127.0.0.1"

READY_RE = re.compile(r"^confabd ready node=(\S+) http=(\d+) cluster=(\d+)\s*$")
ADMIN_RE = re.compile(r"^confabd admin-token=(\S+)\s*$")

START_DEADLINE_S = 20.0
STOP_DEADLINE_S = 20.0
IO_TIMEOUT_S = 10.0

USER_ID_RE = re.compile(r"^u_[0-9a-f]{16}$")
ROOM_ID_RE = re.compile(r"^r_[0-9a-f]{16}$")
DM_ID_RE = re.compile(r"^d_[0-9a-f]{16}$")
MSG_ID_RE = re.compile(r"^m_[0-9a-f]{16}$")

# Flags every test server gets unless the test sets them itself. The contract's
# default of 60 login attempts per address per minute would otherwise trip over
# the many logins a test class does from 127.0.0.1.
DEFAULT_FLAGS = (
    ("--bind", HOST),
    ("--login-ip-attempts", "100000"),
    ("--register-per-min", "100000"),
    ("--rooms-per-min", "100000"),
    ("--invites-per-min", "100000"),
    ("--dms-per-min", "100000"),
)



def now_ms():
    return int(time.time() * 1000)


def clean_env(extra=None):
    """The caller's environment without any CONFAB_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFAB_")}
    if extra:
        env.update(extra)
    return env


def free_port():
    """A loopback port that was free a moment ago (for env/config file tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def unique(prefix="u"):
    """A fresh valid username: [a-z0-9_.-], 3-32 characters."""
    return (prefix + uuid.uuid4().hex[:14])[:32]
