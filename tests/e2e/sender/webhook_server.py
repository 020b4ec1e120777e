"""A real HTTP endpoint on loopback for tests/e2e/sender.sh: stands for the
SMS and Zalo gateways. Each request's JSON names the phone it is for ("to");
the script file says, per phone, what to answer to its requests in turn: an
HTTP status, or "slow" (answer 200 after 3 s, past the sender's timeout).
Phones without a script get 200. Every request is recorded (method, path,
headers, body) as a line of JSON.

    /usr/bin/python3 webhook_server.py PORT SCRIPT.json REQUESTS.jsonl PIDFILE
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
            steps = self.server.script.get(to, [])
            action = steps.pop(0) if steps else 200
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
    with open(pidfile + ".tmp", "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(pidfile + ".tmp", pidfile)
    server.serve_forever()


if __name__ == "__main__":
    main()
