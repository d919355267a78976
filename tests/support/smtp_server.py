"""A real SMTP server for the email sink tests: aiosmtpd, recording what it gets.

Usage: smtp_server.py OUT_DIR [--fail-data N] [--store-then-fail N]
                              [--reject-rcpt ADDR] [--refuse-data N]
                              [--auth USER:PASS]

Prints "listening on PORT" once it accepts connections. Each message that
the server takes is written to OUT_DIR/NNN.json as
{"mail_from", "rcpt_tos", "data", "auth_user"}.

  --fail-data N        refuse the first N messages at DATA with 451 (try later)
  --store-then-fail N  keep the first N messages, then answer 451 anyway: what
                       a client sees when the connection drops after the
                       server took the message
  --reject-rcpt ADDR   refuse that recipient with 550 (no such user)
  --refuse-data N      refuse the first N messages at DATA with 554 (content
                       rejected): permanent, but not the address's fault
  --auth USER:PASS     require AUTH (allowed without TLS, for the test)
"""

import argparse
import asyncio
import json
import os
import signal
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Recorder:
    def __init__(self, out, fail_data, store_then_fail, reject, refuse_data=0):
        self.out = out
        self.refuse_data = refuse_data
        self.fail_data = fail_data
        self.store_then_fail = store_then_fail
        self.reject = reject
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and address.lower() == self.reject.lower():
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data > 0:
            self.refuse_data -= 1
            return "554 5.7.1 Message rejected: content looks like spam"
        if self.fail_data > 0:
            self.fail_data -= 1
            return "451 4.3.0 Temporary failure, please try again later"
        self.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "auth_user": getattr(session, "auth_data", None) and session.auth_data.login.decode(),
        }
        path = os.path.join(self.out, "%03d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        if self.store_then_fail > 0:
            self.store_then_fail -= 1
            return "451 4.4.2 Connection dropped after the message was queued"
        return "250 2.0.0 Ok: queued"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--fail-data", type=int, default=0)
    p.add_argument("--store-then-fail", type=int, default=0)
    p.add_argument("--reject-rcpt", default=None)
    p.add_argument("--refuse-data", type=int, default=0)
    p.add_argument("--auth", default=None)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)

    kwargs = {}
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        warnings.simplefilter("ignore")  # "AUTH without TLS": intended, on loopback
        kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)

    handler = Recorder(a.out, a.fail_data, a.store_then_fail, a.reject_rcpt, a.refuse_data)
    # A free port, found by binding port 0 (Controller itself needs a fixed one).
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("listening on %d" % port, flush=True)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
