"""Shared helpers for the Confab integration tests.

Each test file starts real `confabd` processes on free loopback ports (port 0,
the ready line tells the real port) and drives them over HTTP and WebSocket.
Only the Python standard library and Debian's python3-websocket are used.

Nothing here sleeps to wait for something: every wait reads a socket or a pipe
with a deadline, and every loop is bounded in count and in time. The only
timed waits are poll() (state that is visible only by asking, re-asked at a
short interval until a deadline) and WSClient.idle() (a delay the server itself
prescribes, such as retry_after_ms).

The binary is $CONFABD, else /work/main/build/bin/confabd; cluster
certificates are made with $CONFABCTL, else confabctl beside it.
"""

from .common import *  # noqa: F401,F403
from .rest import *  # noqa: F401,F403
from .ws import *  # noqa: F401,F403
from .process import *  # noqa: F401,F403
from .case import *  # noqa: F401,F403
from .cluster import *  # noqa: F401,F403
