"""The HTTPS side of the Azure emulator (azure_api.py): a TLS server whose handshakes run in
the worker threads, and the request handler that sends the emulator's replies or acts out its
faults (a stall, a 200 with broken JSON, a body cut short, an error status with Retry-After).
"""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.emulators.azure_api import AzureEmulator, Fault


class TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # as a real endpoint: a burst of connects never waits out SYN retries

    def __init__(self, address: tuple[str, int], handler: type, ssl_context: Any) -> None:
        super().__init__(address, handler)
        self.ssl_context = ssl_context

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        # The TLS handshake runs in the worker thread, so one slow client blocks no other.
        return self.ssl_context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(30)
            request.do_handshake()
        except OSError:
            return
        super().finish_request(request, client_address)


def handler(emulator: AzureEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the emulator records requests itself; stderr stays quiet

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = emulator.handle(self.command, self.path, headers, raw)
            if reply.status == 0:
                return self._act_out(reply.body)
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
            self._send(reply.status, data, reply.headers)

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _serve

        def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-ms-request-id", "emulated")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _act_out(self, fault: Fault) -> None:
            if fault.kind == "timeout":
                time.sleep(emulator.stall_seconds)
                self.close_connection = True
                return
            if fault.kind == "malformed":
                return self._send(200, b'{"value": [{"name": ', {})
            if fault.kind == "truncated":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "4096")
                self.end_headers()
                self.wfile.write(b'{"value": [')
                self.close_connection = True
                return
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            code = {
                403: "AuthorizationFailed",
                429: "TooManyRequests",
                503: "ServiceUnavailable",
            }.get(fault.status, "Error")
            body = {"error": {"code": code, "message": f"emulated {fault.status}"}}
            self._send(fault.status, json.dumps(body).encode(), extra)

    return Handler
