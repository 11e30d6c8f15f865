#!/usr/bin/env python3
"""A small S3-compatible server for the tests, on 127.0.0.1.

It keeps objects in a folder, answers path-style PUT and GET
(/BUCKET/KEY) with S3's XML errors, and VERIFIES every request's AWS
Signature Version 4: it rebuilds the canonical request from what arrived,
derives the signing key from the one known secret and compares signatures.
It also checks that x-amz-content-sha256 is the SHA-256 of the body. (s3rver
from npm accepts any V4 signature, so it cannot tell a wrong secret.)

  s3-server.py --dir DIR --port-file FILE --bucket NAME \
      --access-key KEY --secret SECRET [--fail-500 N]

The chosen port is written to --port-file once listening. --fail-500 N
answers the first N PUTs with 500 InternalError (to observe retries). Each
verified request is logged to stdout as "ok METHOD PATH".
"""
import argparse
import datetime
import hashlib
import hmac
import http.server
import os
import re
import sys
import urllib.parse

ARGS = None
FAILS_LEFT = 0

AUTH_RE = re.compile(
    r'^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/s3/'
    r'aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*'
    r'Signature=([0-9a-f]{64})$')


def hmac256(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def canonical_uri(raw_path):
    # S3 signs the path URI-encoded once: every byte but unreserved and '/'.
    return urllib.parse.quote(urllib.parse.unquote(raw_path), safe='/-_.~')


def canonical_query(raw_query):
    pairs = urllib.parse.parse_qsl(raw_query, keep_blank_values=True)
    enc = [(urllib.parse.quote(k, safe='-_.~'),
            urllib.parse.quote(v, safe='-_.~')) for k, v in pairs]
    return '&'.join('%s=%s' % kv for kv in sorted(enc))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        pass

    def error(self, status, code, message):
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s'
                '</Code><Message>%s</Message></Error>' %
                (code, message)).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/xml')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        print('refused %s %s: %d %s (%s)' % (self.command, self.path,
                                              status, code, message),
              flush=True)

    def verify(self, body):
        """None when the signature is right, else (status, code, msg)."""
        auth = self.headers.get('Authorization')
        if auth is None:
            return (403, 'AccessDenied', 'Anonymous access is refused')
        m = AUTH_RE.match(auth.strip())
        if m is None:
            return (400, 'AuthorizationHeaderMalformed', 'Bad header')
        key, date, region, signed, signature = m.groups()
        if key != ARGS.access_key:
            return (403, 'InvalidAccessKeyId', 'Unknown access key')
        names = signed.split(';')
        for need in ('host', 'x-amz-date', 'x-amz-content-sha256'):
            if need not in names:
                return (403, 'AccessDenied', '%s is not signed' % need)
        if names != sorted(names):
            return (403, 'SignatureDoesNotMatch', 'Headers not sorted')
        amzdate = self.headers.get('x-amz-date', '')
        try:
            when = datetime.datetime.strptime(amzdate, '%Y%m%dT%H%M%SZ')
        except ValueError:
            return (403, 'AccessDenied', 'Bad x-amz-date')
        now = datetime.datetime.utcnow()
        if abs((now - when).total_seconds()) > 900 or \
                amzdate[:8] != date:
            return (403, 'RequestTimeTooSkewed', 'Date out of range')
        payload = self.headers.get('x-amz-content-sha256', '')
        if payload != hashlib.sha256(body).hexdigest():
            return (400, 'XAmzContentSHA256Mismatch', 'Payload hash')
        lines = []
        for n in names:
            vals = self.headers.get_all(n)
            if vals is None:
                return (403, 'AccessDenied', '%s is missing' % n)
            v = ','.join(' '.join(x.split()) for x in vals)
            lines.append('%s:%s\n' % (n, v))
        path, _, query = self.path.partition('?')
        creq = '\n'.join([self.command, canonical_uri(path),
                          canonical_query(query), ''.join(lines), signed,
                          payload])
        scope = '%s/%s/s3/aws4_request' % (date, region)
        sts = '\n'.join(['AWS4-HMAC-SHA256', amzdate, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        k = hmac256(('AWS4' + ARGS.secret).encode(), date)
        k = hmac256(k, region)
        k = hmac256(k, 's3')
        k = hmac256(k, 'aws4_request')
        want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, signature):
            return (403, 'SignatureDoesNotMatch',
                    'The request signature we calculated does not match')
        return None

    def target(self):
        """(bucket, key, file path) or None after an error answer."""
        path = urllib.parse.unquote(self.path.partition('?')[0])
        parts = path.lstrip('/').split('/', 1)
        if len(parts) != 2 or parts[1] == '':
            self.error(400, 'InvalidRequest', 'Path-style only')
            return None
        bucket, key = parts
        if bucket != ARGS.bucket:
            self.error(404, 'NoSuchBucket', 'No such bucket')
            return None
        if '..' in key.split('/'):
            self.error(400, 'InvalidRequest', 'Bad key')
            return None
        return bucket, key, os.path.join(ARGS.dir, bucket, key)

    def body(self):
        n = int(self.headers.get('Content-Length', '0'))
        return self.rfile.read(n) if n > 0 else b''

    def do_PUT(self):
        global FAILS_LEFT
        data = self.body()
        bad = self.verify(data)
        if bad is not None:
            return self.error(*bad)
        t = self.target()
        if t is None:
            return
        if FAILS_LEFT > 0:
            FAILS_LEFT -= 1
            return self.error(500, 'InternalError', 'Try again')
        os.makedirs(os.path.dirname(t[2]), exist_ok=True)
        with open(t[2], 'wb') as f:
            f.write(data)
        ctype = self.headers.get('Content-Type', '')
        with open(t[2] + '.content-type', 'w') as f:
            f.write(ctype)
        print('ok PUT %s' % self.path, flush=True)
        self.send_response(200)
        self.send_header('ETag', '"%s"' % hashlib.md5(data).hexdigest())
        self.send_header('Content-Length', '0')
        self.end_headers()

    def do_GET(self):
        bad = self.verify(self.body())
        if bad is not None:
            return self.error(*bad)
        t = self.target()
        if t is None:
            return
        if not os.path.isfile(t[2]):
            return self.error(404, 'NoSuchKey', 'The key does not exist')
        with open(t[2], 'rb') as f:
            data = f.read()
        print('ok GET %s' % self.path, flush=True)
        self.send_response(200)
        self.send_header('ETag', '"%s"' % hashlib.md5(data).hexdigest())
        self.send_header('Content-Type', 'binary/octet-stream')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    global ARGS, FAILS_LEFT
    p = argparse.ArgumentParser()
    p.add_argument('--dir', required=True)
    p.add_argument('--port-file', required=True)
    p.add_argument('--bucket', required=True)
    p.add_argument('--access-key', required=True)
    p.add_argument('--secret', required=True)
    p.add_argument('--fail-500', type=int, default=0)
    ARGS = p.parse_args()
    FAILS_LEFT = ARGS.fail_500
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    tmp = ARGS.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % srv.server_address[1])
    os.rename(tmp, ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
