"""moto_server with DynamoDB's write atomicity, for the contract tests.

moto serves each request on its own thread and applies a conditional write as
read, check, write in Python without a lock, so two racing conditional writes can
both pass their condition. Real DynamoDB serialises the writes to an item (and a
transaction's items), which is what the billing code relies on for exact rate
limits and budgets. This launcher makes every moto API call run under one lock,
so the loopback server keeps that guarantee; it is otherwise `moto_server`.

Usage: python moto_server.py -H 127.0.0.1 -p PORT
"""

import sys
import threading

from moto.core.responses import BaseResponse
from moto.server import main

_lock = threading.Lock()
_call_action = BaseResponse.call_action


def _serialised_call_action(self):
    with _lock:
        return _call_action(self)


BaseResponse.call_action = _serialised_call_action

if __name__ == "__main__":
    sys.exit(main())
