#!/usr/bin/env python3
"""webhook_sink.py - a local, deliberately flaky webhook receiver for tests.

Verifies every request's Standard Webhooks signature with the secret it is
given and records each request, one JSON object per line, in --log:
  {"path", "id", "attempt", "timestamp", "signature", "signatureValid",
   "contentType", "bodyBytes", "peerPort", "receivedAt"}
("attempt" counts requests per path and webhook-id; "peerPort" tells
connections apart, so a test can see keep-alive at work).

What it answers is chosen by the request path, so one sink serves every case:
  /ok                  204
  /status/<code>       that status (e.g. 500, 410, 302 with a Location)
  /flaky/<k>           500 for the first k attempts of each webhook-id, then 204
  /sleep/<ms>          sleeps, then 204 (past the client's timeout)
  /reset               closes the connection with a TCP reset, no answer
  ?retry_after=<v>     adds "Retry-After: <v>" to any answer (URL-encoded)

Usage: webhook_sink.py (--secret whsec_... | --secrets-file FILE) --log FILE
                       --port-file FILE [--tls-cert PEM --tls-key PEM]
--secrets-file holds whsec_ secrets one a line, re-read at every request
(a test adds the secret of each subscription it creates); a signature is
valid when one of them verifies it.
It listens on 127.0.0.1, an ephemeral port written to --port-file once it
accepts connections (HTTPS with --tls-cert); it runs until killed.
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import socket
import ssl
import struct
import threading
import time
import urllib.parse


def verify(key, msg_id, timestamp, body, header):
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    expected = "v1," + base64.b64encode(mac.digest()).decode()
    return any(hmac.compare_digest(expected, candidate)
               for candidate in (header or "").split(" ") if candidate)


class Sink:
    def __init__(self, secret, log_path, secrets_file=None):
        if secret is not None and not secret.startswith("whsec_"):
            raise SystemExit("the secret must start with whsec_")
        self.key = base64.b64decode(secret[len("whsec_"):]) if secret else None
        self.secrets_file = secrets_file
        self.log = open(log_path, "a", encoding="utf-8")
        self.lock = threading.Lock()
        self.attempts = {}

    def record(self, entry):
        with self.lock:
            key = (entry["path"], entry["id"])
            self.attempts[key] = self.attempts.get(key, 0) + 1
            entry["attempt"] = self.attempts[key]
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()
        return entry["attempt"]

    def keys(self):
        if self.key is not None:
            return [self.key]
        try:
            with open(self.secrets_file, encoding="utf-8") as f:
                return [base64.b64decode(line.strip()[len("whsec_"):])
                        for line in f if line.strip().startswith("whsec_")]
        except OSError:
            return []

    def verify(self, msg_id, timestamp, body, header):
        return any(verify(key, msg_id, timestamp, body, header) for key in self.keys())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    sink = None

    def log_message(self, *args):  # quiet
        pass

    def answer(self, status, retry_after, extra=()):
        self.send_response(status)
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        retry_after = query.get("retry_after", [None])[0]
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        msg_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "")
        signature = self.headers.get("webhook-signature", "")
        attempt = self.sink.record({
            "path": url.path,
            "id": msg_id,
            "timestamp": int(timestamp) if timestamp.isdigit() else None,
            "signature": signature,
            "signatureValid": self.sink.verify(msg_id, timestamp, body, signature),
            "contentType": self.headers.get("Content-Type", ""),
            "bodyBytes": len(body),
            "peerPort": self.client_address[1],
            "receivedAt": time.time(),
        })
        parts = [p for p in url.path.split("/") if p]
        kind = parts[0] if parts else "ok"
        arg = parts[1] if len(parts) > 1 else ""
        if kind == "ok":
            self.answer(204, retry_after)
        elif kind == "status":
            code = int(arg)
            extra = [("Location", "/ok")] if 300 <= code < 400 else []
            self.answer(code, retry_after, extra)
        elif kind == "flaky":
            self.answer(500 if attempt <= int(arg) else 204, retry_after)
        elif kind == "sleep":
            time.sleep(int(arg) / 1000.0)
            self.answer(204, retry_after)
        elif kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        else:
            self.answer(404, retry_after)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # /reset closes sockets under the handler's feet: expected


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secret")
    parser.add_argument("--secrets-file")
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    if (args.secret is None) == (args.secrets_file is None):
        parser.error("give one of --secret and --secrets-file")
    Handler.sink = Sink(args.secret, args.log, args.secrets_file)
    server = Server(("127.0.0.1", 0), Handler)
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        # handshake in the handler's thread, so a failing client blocks nobody
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)  # appears whole, once listening
    server.serve_forever()


if __name__ == "__main__":
    main()
