"""A real SMTP server on loopback where motcua-sender's e-mails land, for
the demo (deploy/local/up) and tests/e2e/sender.sh (aiosmtpd, from Debian's
python3-aiosmtpd): accepts mail into a maildir, and refuses a recipient
whose address starts with "khongton" ("does not exist": 550, as a server
does for an unknown mailbox).

    /usr/bin/python3 smtp_sink.py PORT MAILDIR PIDFILE [CERT KEY]

With CERT and KEY (PEM) it offers STARTTLS and requires it: a client that
sends MAIL in the clear is refused (530), so a delivery proves the mail
went over TLS; each message then gets an X-Sink-TLS header naming the
protocol. Each message gets an X-Sink-Session header numbering the SMTP
connection it came on (1, 2, ... in the order of their first message).
"""
import itertools
import mailbox
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller


class Maildir:
    def __init__(self, path):
        # A directory that exists already (made by the caller) gets the
        # maildir's tmp/, new/ and cur/ too.
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        self.box = mailbox.Maildir(path, create=False)
        self.sessions = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].startswith("khongton"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content
        if not hasattr(session, "sink_number"):
            session.sink_number = next(self.sessions)
        content = f"X-Sink-Session: {session.sink_number}\r\n".encode() + content
        if session.ssl:
            tls = session.ssl.get("ssl_object")
            version = tls.version() if tls is not None else "yes"
            content = f"X-Sink-TLS: {version}\r\n".encode() + content
        self.box.add(content)
        return "250 2.0.0 OK: queued"


def main():
    port, path, pidfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    tls = {}
    if len(sys.argv) > 5:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
        tls = {"tls_context": ctx, "require_starttls": True}
    controller = Controller(Maildir(path), hostname="127.0.0.1", port=port, **tls)
    controller.start()
    with open(pidfile + ".tmp", "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(pidfile + ".tmp", pidfile)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
