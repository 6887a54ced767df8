//! Python values as the machine builds them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::pth::DType;

/// A storage named by a persistent id; its bytes live in the zip entry `data/<key>`.
#[derive(Debug)]
pub(crate) struct StorageRef {
    pub dtype: DType,
    pub key: String,
    /// Element count declared by the pickle, checked against the entry's byte length.
    pub numel: u64,
}

/// A strided view into a storage, as `torch._utils._rebuild_tensor_v2` describes it.
#[derive(Debug)]
pub(crate) struct TensorRef {
    pub storage: Rc<StorageRef>,
    pub offset: u64,
    pub shape: Vec<u64>,
    pub stride: Vec<u64>,
}

/// Dictionaries keep insertion order (state dict order is meaningful) plus an index
/// for the key types Python hashes by value, so a repeated SETITEM replaces.
#[derive(Debug, Default)]
pub(crate) struct Dict {
    pub entries: Vec<(Value, Value)>,
    index: HashMap<DictKey, usize>,
}

#[derive(Debug, PartialEq, Eq, Hash)]
enum DictKey {
    Str(Rc<str>),
    Int(i64),
    None,
}

impl Dict {
    pub(crate) fn insert(&mut self, key: Value, value: Value) {
        let hashed = match &key {
            Value::Str(s) => Some(DictKey::Str(s.clone())),
            Value::Int(i) => Some(DictKey::Int(*i)),
            // Python: True == 1, so they share a slot.
            Value::Bool(b) => Some(DictKey::Int(i64::from(*b))),
            Value::None => Some(DictKey::None),
            _ => None,
        };
        match hashed {
            Some(k) => match self.index.get(&k) {
                Some(&slot) => self.entries[slot].1 = value,
                None => {
                    self.index.insert(k, self.entries.len());
                    self.entries.push((key, value));
                }
            },
            None => self.entries.push((key, value)),
        }
    }

    pub fn get_str(&self, key: &str) -> Option<&Value> {
        let slot = *self.index.get(&DictKey::Str(Rc::from(key)))?;
        Some(&self.entries[slot].1)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(Rc<[Value]>),
    // Lists and dicts are shared: the memo must see items added after MEMOIZE.
    List(Rc<RefCell<Vec<Value>>>),
    Dict(Rc<RefCell<Dict>>),
    Global(Rc<(String, String)>),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
    /// Something this reader does not model; the text says what produced it.
    Opaque(Rc<str>),
    /// A tensor this reader cannot represent (complex or quantized storage, sparse
    /// layout, ...); kept apart from [`Value::Opaque`] so a state dict made of them is
    /// still recognised as one and the error names the tensor.
    UnsupportedTensor(Rc<str>),
}

impl Value {
    pub(crate) fn new_dict() -> Value {
        Value::Dict(Rc::new(RefCell::new(Dict::default())))
    }

    /// A short description with its article ("a tuple of 3 items") for error messages.
    pub fn describe(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(b) => format!("the bool {}", if *b { "True" } else { "False" }),
            Value::Int(i) => format!("the int {i}"),
            Value::Float(f) => format!("the float {f}"),
            Value::Str(s) => {
                let short: String = s.chars().take(40).collect();
                format!("the string '{short}'")
            }
            Value::Bytes(b) => format!("a bytes object of length {}", b.len()),
            Value::Tuple(t) => format!("a tuple of {} items", t.len()),
            Value::List(l) => format!("a list of {} items", l.borrow().len()),
            Value::Dict(d) => format!("a dict of {} entries", d.borrow().entries.len()),
            Value::Global(g) => format!("the global {}.{}", g.0, g.1),
            Value::Storage(s) => format!("a storage '{}'", s.key),
            Value::Tensor(_) => "a tensor".into(),
            Value::Opaque(what) | Value::UnsupportedTensor(what) => what.to_string(),
        }
    }
}

/// Python's LONG1/LONG4 payload: little-endian two's complement of any width.
pub(crate) fn decode_long(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Int(0);
    }
    let negative = bytes[bytes.len() - 1] & 0x80 != 0;
    let fill = if negative { 0xff } else { 0x00 };
    let mut buf = [fill; 8];
    let (low, high) = bytes.split_at(bytes.len().min(8));
    buf[..low.len()].copy_from_slice(low);
    let v = i64::from_le_bytes(buf);
    // Bytes beyond 8 must be pure sign extension, and agree with bit 63.
    if high.iter().all(|&b| b == fill) && (v < 0) == negative {
        Value::Int(v)
    } else {
        Value::Opaque(Rc::from("an integer wider than 64 bits"))
    }
}
