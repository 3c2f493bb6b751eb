"""A hostile HTTP server for `benches/e2e.py`: every request gets a 200 that
promises a 1 GiB body (Content-Length) and streams zeros until the client
hangs up or the gigabyte is sent.

    server = HugeBodyServer()     # listening on 127.0.0.1, a free port
    server.url                    # http://127.0.0.1:PORT
    server.requests, server.bytes_sent
    server.close()

It runs in threads of the harness's own process; each connection gives up
after 10 s without progress, so a client that stops reading without closing
costs no thread forever.
"""
import http.server
import socketserver
import threading

BODY_BYTES = 1 << 30
CHUNK = b"\0" * (64 * 1024)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # seconds without progress on a read or a write

    def _huge(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 20))
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(BODY_BYTES))
        self.end_headers()
        sent = 0
        try:
            while sent < BODY_BYTES:
                self.wfile.write(CHUNK)
                sent += len(CHUNK)
        except OSError:  # the client hung up (EPIPE, ECONNRESET) or stalled
            pass
        finally:
            self.server.count(sent)
            self.close_connection = True

    do_POST = _huge
    do_GET = _huge

    def log_message(self, *_):
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes_sent = 0

    def count(self, sent):
        with self.lock:
            self.requests += 1
            self.bytes_sent += sent

    def handle_error(self, request, client_address):
        pass  # a reset connection is what this server expects


class HugeBodyServer:
    def __init__(self):
        self._server = _Server()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def requests(self):
        return self._server.requests

    @property
    def bytes_sent(self):
        return self._server.bytes_sent

    def close(self):
        self._server.shutdown()
        self._server.server_close()
