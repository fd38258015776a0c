"""A custom model server as a tenant would build one: a linear model (y = x W + b) from a pickle, over OIP v2.

The image meridian-test/linear-oip:1 (scripts/build-model-server-test-image.sh) runs it the way the agent's
docker runtime runs any model-server image: MERIDIAN_MODEL_NAME is the name to answer to, MERIDIAN_MODEL_PATH
the model file (a pickle of {"weights": [[...] * inputs], "bias": [...]}), port 8080. Standard library only.
JSON tensors only: a body that is not JSON gets OIP's 400, as a server without the binary extension answers.
"""

import json
import os
import pickle
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = os.environ["MERIDIAN_MODEL_NAME"]
VERSION = os.environ.get("MERIDIAN_MODEL_VERSION", "1")
with open(os.environ["MERIDIAN_MODEL_PATH"], "rb") as f:
    MODEL = pickle.load(f)
WEIGHTS = MODEL["weights"]
BIAS = MODEL["bias"]
INPUTS, OUTPUTS = len(WEIGHTS), len(BIAS)
PREFIX = f"/v2/models/{NAME}"


class BadInput(Exception):
    pass


def predict(request):
    inputs = request.get("inputs") if isinstance(request, dict) else None
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise BadInput("expected one input, 'x'")
    x = inputs[0]
    shape, data = x.get("shape"), x.get("data")
    if x.get("name") != "x" or x.get("datatype") != "FP32":
        raise BadInput("input must be 'x', FP32")
    if not isinstance(shape, list) or len(shape) != 2 or shape[1] != INPUTS or not isinstance(shape[0], int):
        raise BadInput(f"input 'x' must have shape [batch, {INPUTS}], got {shape}")
    if not isinstance(data, list) or len(data) != shape[0] * INPUTS:
        raise BadInput(f"input 'x' needs {shape[0] * INPUTS} numbers")
    rows = [data[r * INPUTS:(r + 1) * INPUTS] for r in range(shape[0])]
    out = [sum(row[i] * WEIGHTS[i][j] for i in range(INPUTS)) + BIAS[j] for row in rows for j in range(OUTPUTS)]
    return {
        "model_name": NAME,
        "model_version": VERSION,
        "outputs": [{"name": "y", "datatype": "FP32", "shape": [shape[0], OUTPUTS], "data": out}],
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path in ("/v2/health/ready", "/v2/health/live"):
            return self.answer(200, {"ready": True})
        if self.path == PREFIX:
            return self.answer(200, {
                "name": NAME,
                "versions": [VERSION],
                "platform": "python-linear",
                "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, INPUTS]}],
                "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, OUTPUTS]}],
            })
        if self.path == PREFIX + "/ready":
            return self.answer(200, {"name": NAME, "ready": True})
        self.answer(404, {"error": f"no route {self.path}"})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        if self.path != PREFIX + "/infer":
            return self.answer(404, {"error": f"no model at {self.path}"})
        try:
            document = json.loads(body)
        except ValueError:
            return self.answer(400, {"error": "the body is not JSON (this server takes no binary tensors)"})
        try:
            self.answer(200, predict(document))
        except BadInput as err:
            self.answer(400, {"error": str(err)})

    def log_message(self, format, *args):
        sys.stderr.write("linear-oip: " + (format % args) + "\n")


print(f"linear-oip serving {NAME} ({INPUTS} inputs, {OUTPUTS} outputs) on :8080", flush=True)
ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
