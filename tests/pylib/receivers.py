"""Tiny receivers for what keeptrack sends out (issue 18, item 5: alerts).

- WebhookReceiver: an HTTP server on 127.0.0.1 (http.server in a thread)
  that records every request (path, headers, parsed JSON body) and answers
  each with the next status of a script (then 200s), so a test asserts the
  exact bodies, the retries after 5xx answers and that nothing came twice.
- SmtpSink: a minimal SMTP server on 127.0.0.1 (a socket in a thread; no
  aiosmtpd on this machine and smtpd is deprecated) that speaks just what a
  client needs to hand over a message: EHLO/HELO, MAIL FROM, RCPT TO, DATA
  (dot-unstuffed), RSET, NOOP, QUIT. It records (mail_from, rcpt_to,
  data) per message; no TLS, no AUTH.

Both wait for conditions with wait_for(predicate), a poll with a deadline,
never a fixed sleep.
"""
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class WebhookReceiver:
    def __init__(self, statuses=()):
        self.requests = []  # (path, headers dict, body bytes)
        self.statuses = list(statuses)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.lock:
                    outer.requests.append((self.path, dict(self.headers), body))
                    status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self):
        with self.lock:
            return [json.loads(b) for _, _, b in self.requests]

    def count(self):
        with self.lock:
            return len(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    def __init__(self):
        self.messages = []  # (mail_from, [rcpt_to], data str)
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.closing = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def count(self):
        with self.lock:
            return len(self.messages)

    def _serve(self):
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        f = conn.makefile("rb")

        def say(line):
            conn.sendall(line.encode() + b"\r\n")

        try:
            say("220 sink ESMTP")
            mail_from, rcpts = None, []
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode("utf-8", "replace").rstrip("\r\n")
                up = cmd.upper()
                if up.startswith("EHLO"):
                    conn.sendall(b"250-sink\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n")
                elif up.startswith("HELO"):
                    say("250 sink")
                elif up.startswith("MAIL FROM:"):
                    mail_from, rcpts = cmd[10:].strip(), []
                    say("250 OK")
                elif up.startswith("RCPT TO:"):
                    rcpts.append(cmd[8:].strip())
                    say("250 OK")
                elif up == "DATA":
                    say("354 end with <CRLF>.<CRLF>")
                    lines = []
                    while True:
                        d = f.readline()
                        if not d or d in (b".\r\n", b".\n"):
                            break
                        if d.startswith(b".."):
                            d = d[1:]
                        lines.append(d)
                    with self.lock:
                        self.messages.append((mail_from, rcpts, b"".join(lines).decode("utf-8")))
                    say("250 OK queued")
                elif up in ("RSET", "NOOP"):
                    say("250 OK")
                elif up == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("502 not implemented")
        finally:
            f.close()
            conn.close()

    def close(self):
        self.closing = True
        self.sock.close()
