//! Reading PyTorch `.pth` checkpoints (what `torch.save(model.state_dict())` writes)
//! and safetensors files into one plain representation, without Python or libtorch.
//!
//! A `.pth` file is a zip archive `<prefix>/data.pkl` + `<prefix>/data/<key>` (+
//! `byteorder`, `version`, ...). The pickle describes the dict of tensors; each tensor
//! is a strided view into one of the raw storages. See [`pickle`] for the subset of
//! the pickle language that is understood.

mod pickle;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use pickle::{Dict, TensorRef, Value};

/// Element types torch state dicts use (storage classes `torch.FloatStorage`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size(&self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// The name PyTorch prints (`torch.float32` -> "float32").
    pub fn torch_name(&self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::I64 => "int64",
            DType::I32 => "int32",
            DType::I16 => "int16",
            DType::I8 => "int8",
            DType::U8 => "uint8",
            DType::Bool => "bool",
        }
    }
}

/// A dense tensor: `data` holds `shape.iter().product()` elements, contiguous,
/// row-major, little-endian. A 0-d tensor has an empty shape and one element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl RawTensor {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PthError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a PyTorch zip checkpoint: {reason}", path.display())]
    NotZip { path: PathBuf, reason: String },
    #[error("{}: corrupt zip archive: {}", path.display(), zip_detail(source))]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{}: cannot read zip entry '{entry}': {source}", path.display())]
    Entry {
        path: PathBuf,
        entry: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {entry}: {message} at byte {pos}", path.display())]
    Pickle {
        path: PathBuf,
        entry: String,
        pos: usize,
        message: String,
    },
    /// The archive or the unpickled object is not shaped like a state dict.
    #[error("{}: {message}", path.display())]
    Layout { path: PathBuf, message: String },
    #[error("{}: tensor '{name}' {message}", path.display())]
    Tensor {
        path: PathBuf,
        name: String,
        message: String,
    },
    #[error("{}: invalid safetensors file: {message}", path.display())]
    Safetensors { path: PathBuf, message: String },
}

/// Keys under which trainer checkpoints nest the model's state dict.
const NESTED_STATE_DICT_KEYS: [&str; 2] = ["state_dict", "model_state_dict"];

/// Reads the tensors of a `torch.save`d state dict, in the file's (insertion) order.
///
/// Also accepts a checkpoint dict holding the tensors under `state_dict` or
/// `model_state_dict`. Storage locations (`cuda:0`, ...) are ignored; strided views
/// and storage offsets are materialised as contiguous copies.
pub fn read_state_dict(path: &Path) -> Result<Vec<(String, RawTensor)>, PthError> {
    let file = File::open(path).map_err(|source| PthError::Io {
        path: path.into(),
        source,
    })?;
    read_state_dict_from_reader(BufReader::new(file), path)
}

/// [`read_state_dict`] on an already opened archive; `origin` names it in errors.
pub fn read_state_dict_from_reader<R: Read + Seek>(
    mut reader: R,
    origin: &Path,
) -> Result<Vec<(String, RawTensor)>, PthError> {
    let path = origin.to_path_buf();
    let io = |source| PthError::Io {
        path: origin.into(),
        source,
    };

    let mut magic = [0u8; 4];
    let got = read_up_to(&mut reader, &mut magic).map_err(io)?;
    if got < 4 || (&magic != b"PK\x03\x04" && &magic != b"PK\x05\x06") {
        let reason = if got > 0 && magic[0] == 0x80 {
            "this is the legacy pre-1.6 torch.save format (a bare pickle); re-save it with \
             a recent PyTorch"
                .to_string()
        } else {
            format!("it does not start with a zip signature ({got} bytes read)")
        };
        return Err(PthError::NotZip { path, reason });
    }
    reader.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut archive = zip::ZipArchive::new(reader).map_err(|source| PthError::Zip {
        path: path.clone(),
        source,
    })?;

    // The prefix is whatever directory torch.save named after the file stem; take it
    // from the entry that holds the pickle.
    let prefix = archive
        .file_names()
        .filter_map(|n| n.strip_suffix("/data.pkl"))
        .find(|p| !p.contains('/'))
        .map(str::to_string);
    let Some(prefix) = prefix else {
        let names: Vec<&str> = archive.file_names().take(8).collect();
        return Err(PthError::Layout {
            path,
            message: format!("no '<prefix>/data.pkl' entry; entries include {names:?}"),
        });
    };

    let little_endian = match read_entry(&mut archive, &format!("{prefix}/byteorder"), origin, SMALL_ENTRY_LIMIT)? {
        // Archives from before torch wrote this entry were little-endian.
        None => true,
        Some(b) => match String::from_utf8_lossy(&b).trim() {
            "little" => true,
            "big" => false,
            other => {
                return Err(PthError::Layout {
                    path,
                    message: format!(
                        "{prefix}/byteorder says '{other}', expected 'little' or 'big'"
                    ),
                })
            }
        },
    };

    let pkl_name = format!("{prefix}/data.pkl");
    let pkl = read_entry(&mut archive, &pkl_name, origin, PICKLE_LIMIT)?.ok_or_else(|| PthError::Layout {
        path: path.clone(),
        message: format!("{pkl_name} vanished from the archive"),
    })?;
    let top = pickle::unpickle(&pkl).map_err(|e| PthError::Pickle {
        path: path.clone(),
        entry: pkl_name.clone(),
        pos: e.pos,
        message: e.message,
    })?;

    let dict = select_state_dict(&top).map_err(|message| PthError::Layout {
        path: path.clone(),
        message,
    })?;
    let entries = dict.borrow().entries.clone();

    // Tied weights share one storage: read each storage entry once.
    let mut storages: HashMap<String, Rc<Vec<u8>>> = HashMap::new();
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let Value::Str(name) = &key else {
            return Err(PthError::Layout {
                path,
                message: format!("state dict key is {}, expected a string", key.describe()),
            });
        };
        let name = name.to_string();
        let tensor_err = |message: String| PthError::Tensor {
            path: origin.into(),
            name: name.clone(),
            message,
        };
        let t = match &value {
            Value::Tensor(t) => t.clone(),
            Value::UnsupportedTensor(what) => {
                return Err(tensor_err(format!(
                    "is {what}, which this reader does not support"
                )))
            }
            other => {
                return Err(tensor_err(format!(
                    "is not a tensor but {}",
                    other.describe()
                )))
            }
        };
        let storage_entry = format!("{prefix}/data/{}", t.storage.key);
        let bytes = match storages.get(&t.storage.key) {
            Some(b) => b.clone(),
            None => {
                let declared = t.storage.numel.checked_mul(t.storage.dtype.size() as u64);
                // A storage never needs more bytes than the pickle declares for it, so a
                // deflated entry that expands past that is refused before it fills memory.
                let limit = declared.unwrap_or(0);
                let Some(mut b) = read_entry(&mut archive, &storage_entry, origin, limit)? else {
                    return Err(tensor_err(format!(
                        "refers to missing storage '{storage_entry}'"
                    )));
                };
                if declared.is_none_or(|d| (b.len() as u64) < d) {
                    return Err(tensor_err(format!(
                        "uses storage '{storage_entry}' of {} bytes, but the pickle declares {} {} \
                         elements",
                        b.len(),
                        t.storage.numel,
                        t.storage.dtype.torch_name()
                    )));
                }
                if !little_endian {
                    swap_bytes(&mut b, t.storage.dtype.size());
                }
                let b = Rc::new(b);
                storages.insert(t.storage.key.clone(), b.clone());
                b
            }
        };
        let tensor = materialise(&t, &bytes).map_err(tensor_err)?;
        out.push((name, tensor));
    }
    Ok(out)
}

/// Reads a safetensors file into the same representation, in the order the tensors'
/// bytes are laid out in the file.
pub fn read_safetensors(path: &Path) -> Result<Vec<(String, RawTensor)>, PthError> {
    let buf = std::fs::read(path).map_err(|source| PthError::Io {
        path: path.into(),
        source,
    })?;
    read_safetensors_bytes(&buf, path)
}

/// [`read_safetensors`] on bytes already in memory; `path` names them in errors.
pub fn read_safetensors_bytes(buf: &[u8], path: &Path) -> Result<Vec<(String, RawTensor)>, PthError> {
    use safetensors::{Dtype, SafeTensors};
    let bad = |message: String| PthError::Safetensors {
        path: path.into(),
        message,
    };
    // The JSON header is a map, so its textual order is lost on parsing; data offset
    // order is what the writer chose and is stable.
    let (_, metadata) = SafeTensors::read_metadata(buf).map_err(|e| bad(e.to_string()))?;
    let st = SafeTensors::deserialize(buf).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for name in metadata.offset_keys() {
        let view = st
            .tensor(&name)
            .map_err(|e| bad(format!("tensor '{name}': {e}")))?;
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F64 => DType::F64,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::I64 => DType::I64,
            Dtype::I32 => DType::I32,
            Dtype::I16 => DType::I16,
            Dtype::I8 => DType::I8,
            Dtype::U8 => DType::U8,
            Dtype::BOOL => DType::Bool,
            other => {
                return Err(bad(format!(
                    "tensor '{name}' has unsupported dtype {other:?}"
                )))
            }
        };
        out.push((
            name,
            RawTensor {
                dtype,
                shape: view.shape().to_vec(),
                data: view.data().to_vec(),
            },
        ));
    }
    Ok(out)
}

/// `ZipError::Io` displays as a bare "i/o error"; the cause is the useful part.
fn zip_detail(e: &zip::result::ZipError) -> String {
    match e {
        zip::result::ZipError::Io(io) => format!("i/o error: {io}"),
        other => other.to_string(),
    }
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Upper bound on the pickle of a checkpoint. A state_dict's pickle holds names, shapes
/// and storage keys only: a few hundred kB even for large models.
const PICKLE_LIMIT: u64 = 256 << 20;
/// Upper bound on the small text entries (`byteorder`).
const SMALL_ENTRY_LIMIT: u64 = 1 << 10;

/// `Ok(None)` when the entry does not exist; a corrupt entry (bad CRC, truncated
/// deflate stream) is an error.
fn read_entry<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
    origin: &Path,
    limit: u64,
) -> Result<Option<Vec<u8>>, PthError> {
    let mut file = match archive.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(source) => {
            return Err(PthError::Zip {
                path: origin.into(),
                source,
            })
        }
    };
    // The declared size is untrusted; cap the up-front allocation.
    let mut buf = Vec::with_capacity(file.size().min(limit).min(1 << 26) as usize);
    // One byte past the limit tells an entry that is too large from one that fits exactly.
    (&mut file).take(limit.saturating_add(1)).read_to_end(&mut buf)
        .map_err(|source| PthError::Entry {
            path: origin.into(),
            entry: name.to_string(),
            source,
        })?;
    if buf.len() as u64 > limit {
        return Err(PthError::Layout {
            path: origin.into(),
            message: format!("zip entry '{name}' expands past {limit} bytes, more than it may hold (a zip bomb?)"),
        });
    }
    Ok(Some(buf))
}

fn select_state_dict(top: &Value) -> Result<Rc<std::cell::RefCell<Dict>>, String> {
    let Value::Dict(d) = top else {
        return Err(format!(
            "top-level object is {}, expected a dict of tensors",
            top.describe()
        ));
    };
    let dict = d.borrow();
    let all_tensors = dict
        .entries
        .iter()
        .all(|(_, v)| matches!(v, Value::Tensor(_)));
    if all_tensors {
        return Ok(d.clone());
    }
    for key in NESTED_STATE_DICT_KEYS {
        match dict.get_str(key) {
            Some(Value::Dict(inner)) => return Ok(inner.clone()),
            Some(other) => {
                return Err(format!(
                    "'{key}' is {}, expected a dict of tensors",
                    other.describe()
                ))
            }
            None => {}
        }
    }
    // A state dict with one odd entry (say, a module's `_extra_state`) gets an error
    // naming that entry later; a dict without any tensor is something else entirely.
    if dict
        .entries
        .iter()
        .any(|(_, v)| matches!(v, Value::Tensor(_) | Value::UnsupportedTensor(_)))
    {
        return Ok(d.clone());
    }
    let keys: Vec<String> = dict
        .entries
        .iter()
        .map(|(k, _)| match k {
            Value::Str(s) => format!("'{s}'"),
            other => other.describe(),
        })
        .collect();
    Err(format!(
        "top-level dict is not a state dict and has no {} entry; its keys are [{}]",
        NESTED_STATE_DICT_KEYS
            .map(|k| format!("'{k}'"))
            .join(" or "),
        keys.join(", ")
    ))
}

fn swap_bytes(b: &mut [u8], size: usize) {
    if size > 1 {
        for chunk in b.chunks_exact_mut(size) {
            chunk.reverse();
        }
    }
}

/// Copies the strided view `t` out of `storage` into a dense row-major buffer.
fn materialise(t: &TensorRef, storage: &[u8]) -> Result<RawTensor, String> {
    let dtype = t.storage.dtype;
    let esize = dtype.size();
    if t.shape.len() != t.stride.len() {
        return Err(format!(
            "has size {:?} but stride {:?} of a different rank",
            t.shape, t.stride
        ));
    }
    let shape: Vec<usize> = t
        .shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("has dimension {d} too large for memory")))
        .collect::<Result<_, _>>()?;
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|n| n.checked_mul(esize).map(|_| n))
        .ok_or_else(|| format!("has size {shape:?}, too large for memory"))?;
    if numel == 0 {
        return Ok(RawTensor {
            dtype,
            shape,
            data: Vec::new(),
        });
    }
    let storage_elems = (storage.len() / esize) as u64;
    // Largest element index the view touches; strides are non-negative in torch.
    let last = t
        .shape
        .iter()
        .zip(&t.stride)
        .try_fold(t.offset, |acc, (&d, &s)| {
            (d - 1).checked_mul(s).and_then(|x| acc.checked_add(x))
        });
    match last {
        Some(last) if last < storage_elems => {}
        _ => {
            return Err(format!(
                "with offset {}, size {:?} and stride {:?} reads past the end of storage '{}' \
                 ({} {} elements)",
                t.offset,
                t.shape,
                t.stride,
                t.storage.key,
                storage_elems,
                dtype.torch_name()
            ))
        }
    }
    // Bounds were checked in u64 against an in-memory length, so usize arithmetic on
    // offsets below cannot overflow.
    let offset = t.offset as usize;
    let stride: Vec<usize> = t.stride.iter().map(|&s| s as usize).collect();

    let mut contiguous = true;
    let mut expected = 1usize;
    for (&d, &s) in shape.iter().zip(&stride).rev() {
        // Strides of size-1 dimensions never matter.
        if d != 1 && s != expected {
            contiguous = false;
        }
        expected *= d;
    }
    if contiguous {
        let data = storage[offset * esize..(offset + numel) * esize].to_vec();
        return Ok(RawTensor { dtype, shape, data });
    }

    let mut data = Vec::with_capacity(numel * esize);
    let mut index = vec![0usize; shape.len()];
    let mut pos = offset;
    for _ in 0..numel {
        data.extend_from_slice(&storage[pos * esize..(pos + 1) * esize]);
        // Odometer over the multi-index, keeping the storage position in step.
        for dim in (0..shape.len()).rev() {
            index[dim] += 1;
            pos += stride[dim];
            if index[dim] < shape[dim] {
                break;
            }
            pos -= stride[dim] * shape[dim];
            index[dim] = 0;
        }
    }
    Ok(RawTensor { dtype, shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn bu(s: &str) -> Vec<u8> {
        let mut v = vec![b'X'];
        v.extend((s.len() as u32).to_le_bytes());
        v.extend(s.as_bytes());
        v
    }

    fn int(i: u32) -> Vec<u8> {
        let mut v = vec![b'J'];
        v.extend(i.to_le_bytes());
        v
    }

    fn int_tuple(xs: &[u32]) -> Vec<u8> {
        let mut v = vec![b'('];
        for &x in xs {
            v.extend(int(x));
        }
        v.push(b't');
        v
    }

    struct Spec<'a> {
        name: &'a str,
        storage_class: &'a str,
        key: &'a str,
        location: &'a str,
        numel: u32,
        offset: u32,
        size: &'a [u32],
        stride: &'a [u32],
    }

    /// The pickle opcodes torch.save emits for one `_rebuild_tensor_v2` call.
    fn tensor_pickle(s: &Spec) -> Vec<u8> {
        [
            b"ctorch._utils\n_rebuild_tensor_v2\n((".as_slice(),
            &bu("storage"),
            format!("ctorch\n{}\n", s.storage_class).as_bytes(),
            &bu(s.key),
            &bu(s.location),
            &int(s.numel),
            b"tQ",
            &int(s.offset),
            &int_tuple(s.size),
            &int_tuple(s.stride),
            b"\x89ccollections\nOrderedDict\n)Rt",
            b"R",
        ]
        .concat()
    }

    /// A state_dict pickle as torch writes it: OrderedDict, SETITEMS, `_metadata` BUILD.
    fn state_dict_pickle(specs: &[Spec]) -> Vec<u8> {
        let mut p = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(".to_vec();
        for s in specs {
            p.extend(bu(s.name));
            p.extend(tensor_pickle(s));
        }
        p.extend(b"u}");
        p.extend(bu("_metadata"));
        p.extend(b"h\x00)R");
        p.extend(bu(""));
        p.push(b'}');
        p.extend(bu("version"));
        p.extend(b"K\x01sssb.");
        p
    }

    fn zip_bytes(
        prefix: &str,
        pkl: &[u8],
        storages: &[(&str, Vec<u8>)],
        byteorder: Option<&str>,
    ) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        w.start_file(format!("{prefix}/data.pkl"), opts).unwrap();
        w.write_all(pkl).unwrap();
        if let Some(b) = byteorder {
            w.start_file(format!("{prefix}/byteorder"), opts).unwrap();
            w.write_all(b.as_bytes()).unwrap();
        }
        for (key, bytes) in storages {
            w.start_file(format!("{prefix}/data/{key}"), opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.start_file(format!("{prefix}/version"), opts).unwrap();
        w.write_all(b"3\n").unwrap();
        w.finish().unwrap().into_inner()
    }

    fn read(bytes: Vec<u8>) -> Result<Vec<(String, RawTensor)>, PthError> {
        read_state_dict_from_reader(Cursor::new(bytes), Path::new("mem.pth"))
    }

    fn f32s(xs: impl IntoIterator<Item = f32>) -> Vec<u8> {
        xs.into_iter().flat_map(f32::to_le_bytes).collect()
    }

    fn i64s(xs: impl IntoIterator<Item = i64>) -> Vec<u8> {
        xs.into_iter().flat_map(i64::to_le_bytes).collect()
    }

    fn spec<'a>(
        name: &'a str,
        key: &'a str,
        numel: u32,
        offset: u32,
        size: &'a [u32],
        stride: &'a [u32],
    ) -> Spec<'a> {
        Spec {
            name,
            storage_class: "FloatStorage",
            key,
            location: "cpu",
            numel,
            offset,
            size,
            stride,
        }
    }

    #[test]
    fn contiguous_transposed_offset_expanded_and_scalar_views() {
        let specs = [
            spec("plain", "0", 6, 0, &[2, 3], &[3, 1]),
            // Transpose of the same 2x3 storage: [[0,3],[1,4],[2,5]].
            spec("transposed", "0", 6, 0, &[3, 2], &[1, 3]),
            // Every other element starting at 1: [1, 3, 5].
            spec("offset_strided", "0", 6, 1, &[3], &[2]),
            spec("offset_tail", "0", 6, 4, &[2], &[1]),
            // Broadcast row (stride 0): [[3,4],[3,4],[3,4]].
            spec("expanded", "0", 6, 3, &[3, 2], &[0, 1]),
            Spec {
                storage_class: "LongStorage",
                ..spec("num_batches_tracked", "1", 1, 0, &[], &[])
            },
            // Size-1 dimension with an arbitrary stride is still contiguous.
            spec("unit_dim", "0", 6, 2, &[1, 3], &[99, 1]),
            spec("empty", "0", 6, 0, &[0, 3], &[3, 1]),
        ];
        let bytes = zip_bytes(
            "archive",
            &state_dict_pickle(&specs),
            &[("0", f32s((0..6).map(|i| i as f32))), ("1", i64s([42]))],
            Some("little"),
        );
        let sd = read(bytes).unwrap();
        let names: Vec<&str> = sd.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, specs.iter().map(|s| s.name).collect::<Vec<_>>());
        let get = |n: &str| &sd.iter().find(|(k, _)| k == n).unwrap().1;
        assert_eq!(get("plain").data, f32s([0., 1., 2., 3., 4., 5.]));
        assert_eq!(get("plain").shape, vec![2, 3]);
        assert_eq!(get("transposed").data, f32s([0., 3., 1., 4., 2., 5.]));
        assert_eq!(get("transposed").shape, vec![3, 2]);
        assert_eq!(get("offset_strided").data, f32s([1., 3., 5.]));
        assert_eq!(get("offset_tail").data, f32s([4., 5.]));
        assert_eq!(get("expanded").data, f32s([3., 4., 3., 4., 3., 4.]));
        let nbt = get("num_batches_tracked");
        assert_eq!(
            (nbt.dtype, nbt.shape.as_slice(), nbt.numel()),
            (DType::I64, &[][..], 1)
        );
        assert_eq!(nbt.data, i64s([42]));
        assert_eq!(get("unit_dim").data, f32s([2., 3., 4.]));
        assert_eq!(get("empty").data, Vec::<u8>::new());
    }

    #[test]
    fn cuda_location_parameter_wrapper_and_other_dtypes() {
        let half = Spec {
            storage_class: "HalfStorage",
            location: "cuda:0",
            ..spec("h", "a", 2, 0, &[2], &[1])
        };
        let bf = Spec {
            storage_class: "BFloat16Storage",
            location: "cuda:1",
            ..spec("b", "b", 1, 0, &[1], &[1])
        };
        let mut p = b"\x80\x02}q\x00(".to_vec();
        p.extend(bu("h"));
        p.extend(tensor_pickle(&half));
        // _rebuild_parameter(tensor, requires_grad=True, OrderedDict())
        p.extend(bu("b"));
        p.extend(b"ctorch._utils\n_rebuild_parameter\n(");
        p.extend(tensor_pickle(&bf));
        p.extend(b"\x88ccollections\nOrderedDict\n)RtR");
        p.extend(b"u.");
        let sd = read(zip_bytes(
            "x",
            &p,
            &[("a", vec![1, 2, 3, 4]), ("b", vec![9, 8])],
            None,
        ))
        .unwrap();
        assert_eq!(sd[0].0, "h");
        assert_eq!(
            sd[0].1,
            RawTensor {
                dtype: DType::F16,
                shape: vec![2],
                data: vec![1, 2, 3, 4]
            }
        );
        assert_eq!(
            sd[1].1,
            RawTensor {
                dtype: DType::BF16,
                shape: vec![1],
                data: vec![9, 8]
            }
        );
    }

    #[test]
    fn big_endian_archives_are_swapped_to_little() {
        let s = [Spec {
            storage_class: "IntStorage",
            ..spec("w", "0", 2, 0, &[2], &[1])
        }];
        let be: Vec<u8> = [7i32, -2].iter().flat_map(|x| x.to_be_bytes()).collect();
        let sd = read(zip_bytes(
            "a",
            &state_dict_pickle(&s),
            &[("0", be)],
            Some("big"),
        ))
        .unwrap();
        let le: Vec<u8> = [7i32, -2].iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(sd[0].1.data, le);
    }

    #[test]
    fn checkpoint_with_nested_state_dict() {
        let s = spec("layer.weight", "0", 2, 0, &[2], &[1]);
        let mut p = b"\x80\x02}(".to_vec();
        p.extend(bu("epoch"));
        p.extend(b"K\x03");
        p.extend(bu("optimizer_state_dict"));
        p.extend(b"}");
        p.extend(bu("lr"));
        p.extend(b"G\x3f\x50\x62\x4d\xd2\xf1\xa9\xfc");
        p.extend(b"s");
        p.extend(bu("scaler"));
        p.extend(b"cnumpy.core.multiarray\nscalar\n)R");
        p.extend(bu("model_state_dict"));
        p.extend(b"}(");
        p.extend(bu(s.name));
        p.extend(tensor_pickle(&s));
        p.extend(b"uu.");
        let sd = read(zip_bytes("ckpt", &p, &[("0", f32s([1.0, 2.0]))], None)).unwrap();
        assert_eq!(sd.len(), 1);
        assert_eq!(sd[0].0, "layer.weight");
        assert_eq!(sd[0].1.data, f32s([1.0, 2.0]));
    }

    #[test]
    fn dict_without_tensors_lists_its_keys() {
        let mut p = b"\x80\x02}(".to_vec();
        p.extend(bu("epoch"));
        p.extend(b"K\x03");
        p.extend(bu("weights"));
        p.extend(b"N");
        p.extend(b"u.");
        let e = read(zip_bytes("ckpt", &p, &[], None))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("mem.pth: "), "{e}");
        assert!(e.contains("keys are ['epoch', 'weights']"), "{e}");
        assert!(e.contains("'model_state_dict'"), "{e}");
    }

    #[test]
    fn non_tensor_entry_names_key_and_global() {
        let s = spec("a", "0", 1, 0, &[1], &[1]);
        let mut p = b"\x80\x02}(".to_vec();
        p.extend(bu("a"));
        p.extend(tensor_pickle(&s));
        p.extend(bu("b"));
        p.extend(tensor_pickle(&s));
        p.extend(bu("c"));
        p.extend(b"cnumpy.core.multiarray\n_reconstruct\n)R");
        p.extend(b"u.");
        let e = read(zip_bytes("z", &p, &[("0", f32s([1.0]))], None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("tensor 'c' is not a tensor"), "{e}");
        assert!(e.contains("numpy.core.multiarray._reconstruct"), "{e}");
    }

    #[test]
    fn missing_short_and_overrun_storages_are_errors() {
        let s = [spec("core.x", "7", 4, 0, &[4], &[1])];
        let e = read(zip_bytes("m", &state_dict_pickle(&s), &[], None))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "mem.pth: tensor 'core.x' refers to missing storage 'm/data/7'"
        );

        let e = read(zip_bytes(
            "m",
            &state_dict_pickle(&s),
            &[("7", f32s([1.0]))],
            None,
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("of 4 bytes, but the pickle declares 4 float32"),
            "{e}"
        );

        // The view runs past the storage even though the storage is intact.
        let s = [spec("v", "0", 4, 2, &[2, 2], &[2, 1])];
        let e = read(zip_bytes(
            "m",
            &state_dict_pickle(&s),
            &[("0", f32s([0.; 4]))],
            None,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("tensor 'v' with offset 2"), "{e}");
        assert!(e.to_string().contains("reads past the end"), "{e}");

        let s = [spec("r", "0", 4, 0, &[2, 2], &[1])];
        let e = read(zip_bytes(
            "m",
            &state_dict_pickle(&s),
            &[("0", f32s([0.; 4]))],
            None,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("different rank"), "{e}");
    }

    #[test]
    fn unknown_opcode_is_an_error_naming_it() {
        let mut p = state_dict_pickle(&[spec("a", "0", 1, 0, &[1], &[1])]);
        // Replace the final STOP by an opcode outside the subset (0x49 'I', text INT).
        let at = p.len() - 1;
        p[at] = b'I';
        let e = read(zip_bytes("q", &p, &[("0", f32s([1.0]))], None))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!("mem.pth: q/data.pkl: unsupported pickle opcode 0x49 at byte {at}")
        );
    }

    #[test]
    fn unsupported_storage_type_is_named() {
        let s = [Spec {
            storage_class: "ComplexFloatStorage",
            ..spec("c", "0", 1, 0, &[1], &[1])
        }];
        let e = read(zip_bytes(
            "q",
            &state_dict_pickle(&s),
            &[("0", vec![0; 8])],
            None,
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "mem.pth: tensor 'c' is a tensor on storage '0' of unsupported type \
             torch.ComplexFloatStorage, which this reader does not support"
        );
        let mut p = b"\x80\x02}(".to_vec();
        p.extend(bu("q"));
        p.extend(b"ctorch._utils\n_rebuild_qtensor\n)R");
        p.extend(b"u.");
        let e = read(zip_bytes("q", &p, &[], None)).unwrap_err().to_string();
        assert!(
            e.contains(
                "tensor 'q' is a tensor built by unsupported global torch._utils._rebuild_qtensor"
            ),
            "{e}"
        );
    }

    #[test]
    fn truncated_or_damaged_archives_are_errors() {
        let specs = [spec("w", "0", 64, 0, &[8, 8], &[8, 1])];
        let whole = zip_bytes(
            "t",
            &state_dict_pickle(&specs),
            &[("0", f32s((0..64).map(|i| i as f32)))],
            None,
        );
        assert!(read(whole.clone()).is_ok());
        for cut in (0..whole.len()).step_by(7) {
            assert!(
                read(whole[..cut].to_vec()).is_err(),
                "cut at {cut} of {} was accepted",
                whole.len()
            );
        }
        // Flip every byte of the file in turn: each either fails cleanly or (for
        // bytes the reader never looks at, like timestamps) still reads the same data.
        let expected = read(whole.clone()).unwrap();
        for i in 0..whole.len() {
            let mut bad = whole.clone();
            bad[i] ^= 0x5a;
            if let Ok(sd) = read(bad) {
                assert_eq!(
                    sd, expected,
                    "flipping byte {i} silently changed the result"
                );
            }
        }
        let e = read(b"\x80\x02}q\x00.".to_vec()).unwrap_err().to_string();
        assert!(e.contains("legacy pre-1.6"), "{e}");
        let e = read(Vec::new()).unwrap_err().to_string();
        assert!(e.contains("does not start with a zip signature"), "{e}");
    }

    #[test]
    fn pth_zip_bomb_storage_is_refused_before_it_fills_memory() {
        // A 64-element f32 storage (256 bytes) deflated from 64 MiB of zeros: the
        // reader must stop one byte past what the pickle declares.
        let specs = [spec("w", "0", 64, 0, &[8, 8], &[8, 1])];
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("b/data.pkl", stored).unwrap();
        w.write_all(&state_dict_pickle(&specs)).unwrap();
        w.start_file("b/data/0", deflated).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            w.write_all(&zeros).unwrap();
        }
        let bomb = w.finish().unwrap().into_inner();
        assert!(bomb.len() < 1 << 20, "the bomb should be small: {}", bomb.len());
        let e = read(bomb).unwrap_err().to_string();
        assert!(e.contains("zip entry 'b/data/0' expands past 256 bytes"), "{e}");
    }

    #[test]
    fn missing_pickle_entry_lists_entries() {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file("foo/bar", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"x").unwrap();
        let e = read(w.finish().unwrap().into_inner())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no '<prefix>/data.pkl' entry") && e.contains("foo/bar"),
            "{e}"
        );
    }

    #[test]
    fn dtype_sizes() {
        let all = [
            (DType::F32, 4),
            (DType::F64, 8),
            (DType::F16, 2),
            (DType::BF16, 2),
            (DType::I64, 8),
            (DType::I32, 4),
            (DType::I16, 2),
            (DType::I8, 1),
            (DType::U8, 1),
            (DType::Bool, 1),
        ];
        for (d, s) in all {
            assert_eq!(d.size(), s, "{d:?}");
        }
    }
}
