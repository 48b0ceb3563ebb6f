"""The outside services Moim calls, for scripts/fuzz: no machine running CI reaches Nexon or
Naver Band, and a connector that cannot reach its service answers 503, which the fuzzer would
rightly call a server error. This one answers every request as the real services answer a
request they refuse: Nexon's OPENAPI00004 ("bad parameter", 400) for MapleStory, and Band's
{result_code, result_data} with an error code for Band. Usage: upstreams.py PORT"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Refusing(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/maplestory/"):
            status = 400
            body = {"error": {"name": "OPENAPI00004", "message": "Please input valid parameter"}}
        else:
            status = 200
            body = {"result_code": 211, "result_data": {"message": "invalid access token"}}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Refusing).serve_forever()
