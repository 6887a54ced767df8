"""Static file server for bench/zoo-pull.sh: 127.0.0.1 only, large write buffer so the
server is not the bottleneck being measured. Usage: serve.py PORT DIR"""
import functools
import http.server
import sys

port, root = int(sys.argv[1]), sys.argv[2]


class Handler(http.server.SimpleHTTPRequestHandler):
    wbufsize = 1 << 20

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer.allow_reuse_address = True
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=root))
server.serve_forever()
