#!/usr/bin/env python3
"""Writes a HAR of N entries shaped like a browser's recording of a JSON API: about ten
request and ten response headers, a query string, cookies, timings, and a JSON body of
about BODY bytes (a fifth of the entries are POSTs with a JSON request body).

    benches/make_har.py OUT.har N [BODY]
"""
import json
import sys

out, n = sys.argv[1], int(sys.argv[2])
body_size = int(sys.argv[3]) if len(sys.argv) > 3 else 1500


def headers(pairs):
    return [{"name": k, "value": v} for k, v in pairs]


def entry(i):
    post = i % 5 == 0
    url = f"https://api.bench.test/v1/items/{i}?page={i % 7}&sort=name"
    text = json.dumps({"id": i, "name": f"item {i}", "tags": ["a", "b", "c"],
                       "description": "x" * max(0, body_size - 90)})
    req_headers = [("Host", "api.bench.test"), ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"),
                   ("Accept", "application/json, text/plain, */*"), ("Accept-Language", "en-GB,en;q=0.9"),
                   ("Accept-Encoding", "gzip, deflate, br"), ("Referer", "https://app.bench.test/"),
                   ("Origin", "https://app.bench.test"), ("Cookie", f"session=abc{i % 97}; theme=dark"),
                   ("Sec-Fetch-Mode", "cors"), ("X-Request-Id", f"req-{i:08d}")]
    request = {"method": "POST" if post else "GET", "url": url, "httpVersion": "HTTP/1.1",
               "cookies": [{"name": "session", "value": f"abc{i % 97}"}, {"name": "theme", "value": "dark"}],
               "headers": headers(req_headers + ([("Content-Type", "application/json")] if post else [])),
               "queryString": [{"name": "page", "value": str(i % 7)}, {"name": "sort", "value": "name"}],
               "headersSize": -1, "bodySize": 0}
    if post:
        body = json.dumps({"name": f"item {i}", "count": i})
        request["postData"] = {"mimeType": "application/json", "text": body}
        request["bodySize"] = len(body)
    resp_headers = [("Date", "Sun, 22 Nov 2026 10:00:00 GMT"), ("Content-Type", "application/json; charset=utf-8"),
                    ("Content-Length", str(len(text))), ("Cache-Control", "no-cache, no-store"),
                    ("ETag", f'W/"{i:x}-abcdef"'), ("Vary", "Accept-Encoding, Origin"),
                    ("Access-Control-Allow-Origin", "https://app.bench.test"), ("X-Request-Id", f"req-{i:08d}"),
                    ("Server", "bench"), ("Strict-Transport-Security", "max-age=31536000")]
    return {"startedDateTime": "2026-11-22T10:00:00.000Z", "time": 12.5, "request": request,
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "cookies": [],
                         "headers": headers(resp_headers),
                         "content": {"size": len(text), "mimeType": "application/json; charset=utf-8", "text": text},
                         "redirectURL": "", "headersSize": -1, "bodySize": len(text), "_transferSize": len(text) + 300},
            "cache": {}, "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0.1, "wait": 10.2,
                                     "receive": 2.2, "ssl": -1}, "serverIPAddress": "127.0.0.1",
            "_resourceType": "fetch"}


with open(out, "w") as f:
    f.write('{"log":{"version":"1.2","creator":{"name":"bench","version":"1"},"entries":[')
    for i in range(n):
        if i:
            f.write(",")
        f.write(json.dumps(entry(i)))
    f.write("]}}")
