"""A real HTTP endpoint on loopback standing for the SMS and Zalo gateways
motcua-sender calls, for the demo (deploy/local/up) and
tests/e2e/sender.sh. Each request's JSON names the phone it is for ("to");
the script file says, per phone, what to answer to its requests in turn: an
HTTP status, or "slow" (answer 200 after 3 s, past the sender's timeout).
"first" lists the answers to the first requests, whatever their phone.
Phones without a script get 200, except that with "refuse_every": M every
M-th request is answered 400 (no such subscriber: a permanent failure, so
notify falls back to the next channel) and with "every": N every N-th 503
(busy: a temporary failure, so notify retries). Every request is recorded (path, headers, body, answer) as
a line of JSON.

    /usr/bin/python3 gateway_sink.py PORT SCRIPT.json REQUESTS.jsonl PIDFILE
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()


class Gateway(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        try:
            to = json.loads(body).get("to", "")
        except ValueError:
            to = ""
        with lock:
            self.server.count += 1
            first = self.server.script.get("first", [])
            steps = self.server.script.get(to, [])
            every = self.server.script.get("every", 0)
            refuse = self.server.script.get("refuse_every", 0)
            if self.server.count <= len(first):
                action = first[self.server.count - 1]
            elif steps:
                action = steps.pop(0)
            elif refuse and self.server.count % refuse == 0:
                action = 400  # the demo's gateway knows no such subscriber
            elif every and self.server.count % every == 0:
                action = 503  # the demo's gateway is busy now and then
            else:
                action = 200
            with open(self.server.log, "a") as f:
                f.write(json.dumps({"path": self.path, "headers": dict(self.headers),
                                    "body": body.decode("utf-8"), "answer": action}) + "\n")
        if action == "slow":
            time.sleep(3)
            action = 200
        answer = b'{"ok": true}' if action < 300 else b'{"error": "refused by the test"}'
        self.send_response(action)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def main():
    port, script, log, pidfile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    server = ThreadingHTTPServer(("127.0.0.1", port), Gateway)
    with open(script) as f:
        server.script = json.load(f)
    server.log = log
    server.count = 0
    with open(pidfile + ".tmp", "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(pidfile + ".tmp", pidfile)
    server.serve_forever()


if __name__ == "__main__":
    main()
