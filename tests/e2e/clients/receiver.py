"""A webhook receiver for the e2e tests of `harp fire`: it verifies signatures the way
the providers document (GitHub's X-Hub-Signature-256, Stripe's Stripe-Signature with a
timestamp tolerance, a plain hex HMAC), with Python's own hmac module.

    python3 receiver.py SECRET LOG   prints "port N", then serves until killed

POST /github, /stripe, /hmac: 2xx when the signature verifies, 401 when it does not.
/flaky/<scheme>: 503 (Retry-After: 0) for the first two requests, then as /<scheme>.
/down: always 500. Each request is appended to LOG as a JSON line.
"""
import hashlib, hmac, http.server, json, sys, time

SECRET = sys.argv[1].encode()
LOG = sys.argv[2]
seen = {}


def mac(data):
    return hmac.new(SECRET, data, hashlib.sha256).hexdigest()


def verify(scheme, headers, body):
    if scheme == "github":
        given = headers.get("X-Hub-Signature-256", "")
        return hmac.compare_digest(given, "sha256=" + mac(body))
    if scheme == "hmac":
        return hmac.compare_digest(headers.get("X-Signature", ""), mac(body))
    if scheme == "stripe":
        parts = dict(p.split("=", 1) for p in headers.get("Stripe-Signature", "").split(",") if "=" in p)
        t = parts.get("t", "")
        if not t.isdigit() or abs(time.time() - int(t)) > 300:
            return False
        return hmac.compare_digest(parts.get("v1", ""), mac(t.encode() + b"." + body))
    return False


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, text, extra=()):
        data = text.encode()
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        path = self.path
        seen[path] = seen.get(path, 0) + 1
        with open(LOG, "a") as log:
            log.write(json.dumps({"path": path, "n": seen[path], "body": body.decode(errors="replace"),
                                  "content_type": self.headers.get("Content-Type")}) + "\n")
        if path == "/down":
            return self.answer(500, "down")
        if path.startswith("/flaky/"):
            if seen[path] <= 2:
                return self.answer(503, "busy", [("Retry-After", "0")])
            path = path[len("/flaky"):]
        scheme = path.strip("/")
        if verify(scheme, self.headers, body):
            return self.answer(200, json.dumps({"received": True, "scheme": scheme}))
        return self.answer(401, "bad signature")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("port", server.server_address[1], flush=True)
server.serve_forever()
