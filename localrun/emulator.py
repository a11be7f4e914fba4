"""The embedded AWS emulator: moto's server app on 127.0.0.1, patched, in this process.

moto's WSGI app (``DomainDispatcherApplication(create_backend_app)``, as moto's
``ThreadedMotoServer`` builds it) is served by a threaded werkzeug server on a free port.
Before anything is created: the patches of :mod:`localrun.moto_patches` are installed and
Step Functions execution is enabled. ``MOTO_PORT`` is set in this process because moto's
Step Functions interpreter calls Lambda at ``http://localhost:$MOTO_PORT``; those calls
reach :meth:`Emulator.set_lambda` (the Lambda layer) through the same server.

One emulator per process: moto's backends and ``MOTO_PORT`` are process-global.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from werkzeug.serving import make_server

from localrun import moto_patches

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class Emulator:
    _active: Emulator | None = None
    _active_lock = threading.Lock()

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> None:
        self.host = host
        self._requested_port = port
        self._quiet = quiet
        self.port: int | None = None
        self.endpoint_url: str | None = None
        self.moto_app: Callable | None = None
        self._lambda: Callable | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._saved_port: str | None = None
        self._saved_log_level: int | None = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        with Emulator._active_lock:
            if Emulator._active is not None:
                raise RuntimeError(
                    "an emulator is already running in this process: stop it first (moto's"
                    " backends and MOTO_PORT are process-global)"
                )
            Emulator._active = self
        try:
            if self._quiet:
                # moto logs every failed task at ERROR with its whole parse tree; results
                # and the function logs say what failed.
                moto_logger = logging.getLogger("moto")
                self._saved_log_level = moto_logger.level
                moto_logger.setLevel(logging.CRITICAL)
            moto_patches.apply()
            moto_api_backend.reset()
            moto_patches.enable_step_functions_execution()
            self.moto_app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(
                self.host,
                self._requested_port,
                self._dispatch,
                threaded=True,
                request_handler=_quiet(MotoRequestHandler),
            )
            self._server.daemon_threads = True
            self.port = self._server.server_port
            self.endpoint_url = f"http://{self.host}:{self.port}"
            self._saved_port = os.environ.get("MOTO_PORT")
            os.environ["MOTO_PORT"] = str(self.port)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="localrun-moto",
                daemon=True,
            )
            self._thread.start()
        except BaseException:
            self.stop()
            raise

    def set_lambda(self, layer: Callable | None) -> None:
        """Route requests through ``layer`` (a WSGI app wrapping :attr:`moto_app`), or not."""
        self._lambda = layer

    def _dispatch(self, environ, start_response):
        app = self._lambda or self.moto_app
        return app(environ, start_response)

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None and self._thread.is_alive():
                self._server.shutdown()
                self._thread.join(timeout=5)
            self._server.server_close()
            self._server = None
        if self.port is not None:
            if self._saved_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._saved_port
        if self._saved_log_level is not None:
            logging.getLogger("moto").setLevel(self._saved_log_level)
            self._saved_log_level = None
        with Emulator._active_lock:
            if Emulator._active is self:
                Emulator._active = None

    def lambda_code(self, function_name: str) -> bytes:
        """The zip a function was deployed with, as moto stored it (moto's GetFunction
        answers with an S3 location that does not exist)."""
        from moto.awslambda.models import lambda_backends

        return lambda_backends[ACCOUNT_ID][REGION].get_function(function_name).code_bytes


def _quiet(handler_class: type) -> type:
    """moto's request handler without werkzeug's one-line-per-request access log."""

    class QuietRequestHandler(handler_class):
        def log_request(self, *args, **kwargs) -> None:
            pass

    return QuietRequestHandler


__all__ = ["ACCOUNT_ID", "FAKE_CREDENTIALS", "REGION", "Emulator"]
