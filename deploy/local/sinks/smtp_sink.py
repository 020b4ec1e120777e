"""A real SMTP server on loopback where motcua-sender's e-mails land, for
the demo (deploy/local/up) and tests/e2e/sender.sh (aiosmtpd, from Debian's
python3-aiosmtpd): accepts mail into a maildir, and refuses a recipient
whose address starts with "khongton" ("does not exist": 550, as a server
does for an unknown mailbox).

    /usr/bin/python3 smtp_sink.py PORT MAILDIR PIDFILE
"""
import mailbox
import os
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

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].startswith("khongton"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.box.add(envelope.original_content)
        return "250 2.0.0 OK: queued"


def main():
    port, path, pidfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    controller = Controller(Maildir(path), hostname="127.0.0.1", port=port)
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
