"""Writes tiny ONNX models carrying this project's metadata (the real ones are 8-36 MB),
encoded by hand so that no onnx package is needed: x [batch, 6, L] -> Conv 1x1 ->
ReduceMean -> y [batch]."""
import json, struct, sys

def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def field(num, wire, payload):
    key = varint((num << 3) | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload

def s(num, text):
    return field(num, 2, text.encode() if isinstance(text, str) else text)

def dim(value=None, param=None):
    return field(1, 0, value) if value is not None else s(2, param)

def value_info(name, dims):
    shape = b"".join(s(1, d) for d in dims)
    tensor = field(1, 0, 1) + s(2, shape)  # elem_type FLOAT, shape
    return s(1, name) + s(2, s(1, tensor))  # ValueInfo.name, .type.tensor_type

def attr_ints(name, ints):
    return s(1, name) + field(20, 0, 7) + b"".join(field(8, 0, i) for i in ints)

def attr_int(name, i):
    return s(1, name) + field(20, 0, 2) + field(3, 0, i)

def node(op, inputs, outputs, attrs=()):
    return b"".join(s(1, i) for i in inputs) + b"".join(s(2, o) for o in outputs) + s(4, op) + b"".join(s(5, a) for a in attrs)

def model(pre, outputs, length, channels=6):
    w = s(8, "w") + field(1, 0, 1) + field(1, 0, channels) + field(1, 0, 1) + field(2, 0, 1) \
        + s(9, struct.pack("<%df" % channels, *[0.1 * (i + 1) for i in range(channels)]))
    graph = s(1, node("Conv", ["x", "w"], ["h"], [attr_ints("kernel_shape", [1])])) \
        + s(1, node("ReduceMean", ["h"], ["y"], [attr_ints("axes", [1, 2]), attr_int("keepdims", 0)])) \
        + s(2, "tiny") + s(5, w) \
        + s(11, value_info("x", [dim(param="batch"), dim(channels), dim(length)])) \
        + s(12, value_info("y", [dim(param="batch")]))
    meta = {"preprocessing": json.dumps(pre), "outputs": json.dumps(outputs), "model": '{"arch":"tiny"}',
            "name": "tiny", "version": "0.0.0", "license": "MIT", "provenance": "fuzz seed"}
    props = b"".join(s(14, s(1, k) + s(2, v)) for k, v in meta.items())
    opset = s(8, field(2, 0, 13))
    return field(1, 0, 8) + s(2, "fuzz") + s(7, graph) + opset + props

out = sys.argv[1]
pre = json.load(open(sys.argv[2]))["preprocessing"]
open(f"{out}/dream.onnx", "wb").write(model(pre, ["expression"], pre["length"]))
short = {"length": 12, "padding": {"kind": "exact"}, "alphabet": "ACGT", "extra_channels": [],
         "n_policy": "zeros", "rc_average": False}
open(f"{out}/short.onnx", "wb").write(model(short, ["a"], 12, channels=4))
