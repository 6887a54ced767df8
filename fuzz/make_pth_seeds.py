"""Writes small .pth files in torch.save's zip layout (archive/data.pkl, data/<key>,
version, byteorder) without torch: the pickle names torch's rebuild functions and
storage classes exactly as torch.save does, through stand-in modules."""
import collections, pickle, struct, sys, types, zipfile

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules["torch"], sys.modules["torch._utils"] = torch, utils

def storage_class(name):
    c = type(name, (), {})
    c.__module__ = "torch"
    setattr(torch, name, c)
    return c

FloatStorage, LongStorage, HalfStorage = (storage_class(n) for n in ("FloatStorage", "LongStorage", "HalfStorage"))

def _rebuild_tensor_v2(*a):
    raise NotImplementedError
_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2

class Storage:
    def __init__(self, key, cls, numel):
        self.key, self.cls, self.numel = key, cls, numel

class Tensor:
    def __init__(self, storage, offset, shape, stride):
        self.args = (storage, offset, tuple(shape), tuple(stride), False, collections.OrderedDict())
    def __reduce__(self):
        return (_rebuild_tensor_v2, self.args)

class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, "cpu", obj.numel)
        return None

def contiguous_stride(shape):
    stride, acc = [], 1
    for d in reversed(shape):
        stride.insert(0, acc)
        acc *= d
    return stride

def write(path, tensors, nest=None, prefix="archive"):
    sd = collections.OrderedDict()
    blobs = {}
    for i, (name, cls, fmt, shape, values, offset, stride) in enumerate(tensors):
        key = str(i)
        numel = len(values)
        blobs[key] = struct.pack("<" + fmt * numel, *values)
        sd[name] = Tensor(Storage(key, cls, numel), offset, shape, stride or contiguous_stride(shape))
    obj = {nest: sd} if nest else sd
    import io
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", buf.getvalue())
        z.writestr(f"{prefix}/byteorder", "little")
        for key, blob in blobs.items():
            z.writestr(f"{prefix}/data/{key}", blob)
        z.writestr(f"{prefix}/version", "3\n")

out = sys.argv[1]
write(f"{out}/small.pth", [
    ("conv.weight", FloatStorage, "f", [2, 3, 2], [float(i) for i in range(12)], 0, None),
    ("conv.bias", FloatStorage, "f", [2], [0.5, -0.5], 0, None),
    ("bn.num_batches_tracked", LongStorage, "q", [], [12], 0, None),
])
write(f"{out}/strided.pth", [
    ("t.weight", FloatStorage, "f", [2, 2], [float(i) for i in range(8)], 1, [1, 3]),
    ("h.weight", HalfStorage, "e", [3], [1.0, 2.0, 3.0], 0, None),
], nest="state_dict", prefix="model")
