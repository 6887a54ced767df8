//! A pickle virtual machine for the subset of protocols 2-5 that `torch.save` writes.
//!
//! Nothing is ever executed. Globals are recorded by name and only a fixed set of
//! `torch` / `collections` callables is interpreted (tensor and parameter rebuilds,
//! `OrderedDict`, storage classes). Calling any other global yields an
//! [`Value::Opaque`] naming it rather than an error, because trainer checkpoints often
//! carry unrelated objects (numpy scalars, `torch.device`, ...) next to the state dict;
//! the caller turns an opaque value into an error only when it needs its content.
//! Opcodes outside the subset are a hard error: the machine cannot continue past them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use super::DType;

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
    fn insert(&mut self, key: Value, value: Value) {
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
    fn new_dict() -> Value {
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PickleError {
    /// Byte offset of the opcode that failed.
    pub pos: usize,
    pub message: String,
}

impl fmt::Display for PickleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.pos)
    }
}

/// Runs the pickle program in `data` and returns the object STOP leaves on the stack.
pub(crate) fn unpickle(data: &[u8]) -> Result<Value, PickleError> {
    Machine {
        data,
        pos: 0,
        op_pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    }
    .run()
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    op_pos: usize,
    stack: Vec<Value>,
    /// Stack heights at each MARK (Python's "metastack").
    marks: Vec<usize>,
    /// Keyed by index rather than a Vec: LONG_BINPUT indices are untrusted u32s.
    memo: HashMap<u32, Value>,
}

impl<'a> Machine<'a> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, PickleError> {
        Err(PickleError {
            pos: self.op_pos,
            message: message.into(),
        })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let left = self.data.len() - self.pos;
        if n > left {
            let op = self.data[self.op_pos];
            return self.err(format!(
                "pickle truncated: opcode 0x{op:02x} needs {n} more bytes, only {left} left"
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, PickleError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().unwrap_or_default(),
        ))
    }

    fn u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }

    fn u64(&mut self) -> Result<u64, PickleError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }

    fn len_u64(&mut self) -> Result<usize, PickleError> {
        let n = self.u64()?;
        usize::try_from(n).or_else(|_| self.err(format!("length {n} does not fit in memory")))
    }

    fn line(&mut self) -> Result<&'a str, PickleError> {
        let rest = &self.data[self.pos..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return self.err("pickle truncated: GLOBAL name has no terminating newline");
        };
        self.pos += end + 1;
        std::str::from_utf8(&rest[..end]).or_else(|_| self.err("GLOBAL name is not valid UTF-8"))
    }

    fn utf8(&self, bytes: &[u8]) -> Result<Value, PickleError> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Value::Str(Rc::from(s))),
            Err(e) => self.err(format!("string is not valid UTF-8: {e}")),
        }
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        // Popping below the innermost MARK would silently corrupt the frame.
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            let op = self.data[self.op_pos];
            return self.err(format!("pickle stack underflow at opcode 0x{op:02x}"));
        }
        Ok(self.stack.pop().expect("length checked above"))
    }

    fn top(&self) -> Result<&Value, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        match self.stack.last() {
            Some(v) if self.stack.len() > floor => Ok(v),
            _ => {
                let op = self.data[self.op_pos];
                self.err(format!("pickle stack underflow at opcode 0x{op:02x}"))
            }
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let Some(mark) = self.marks.pop() else {
            let op = self.data[self.op_pos];
            return self.err(format!("opcode 0x{op:02x} without a preceding MARK"));
        };
        Ok(self.stack.split_off(mark))
    }

    fn pop_tuple(&mut self, n: usize) -> Result<Value, PickleError> {
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.pop()?);
        }
        items.reverse();
        Ok(Value::Tuple(items.into()))
    }

    fn memo_get(&mut self, idx: u32) -> Result<(), PickleError> {
        match self.memo.get(&idx) {
            Some(v) => {
                let v = v.clone();
                self.push(v);
                Ok(())
            }
            None => self.err(format!("memo slot {idx} read before it was written")),
        }
    }

    fn memo_put(&mut self, idx: u32) -> Result<(), PickleError> {
        let v = self.top()?.clone();
        self.memo.insert(idx, v);
        Ok(())
    }

    fn run(mut self) -> Result<Value, PickleError> {
        loop {
            self.op_pos = self.pos;
            let Some(&op) = self.data.get(self.pos) else {
                return self.err("pickle truncated: ended without a STOP opcode");
            };
            self.pos += 1;
            match op {
                0x80 => {
                    // PROTO
                    let v = self.u8()?;
                    if !(2..=5).contains(&v) {
                        return self.err(format!("unsupported pickle protocol {v}"));
                    }
                }
                0x95 => {
                    // FRAME: a read-ahead hint; the framed opcodes follow inline.
                    self.take(8)?;
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'}' => self.push(Value::new_dict()),
                b']' => self.push(Value::List(Rc::new(RefCell::new(Vec::new())))),
                b')' => self.push(Value::Tuple(Rc::from(Vec::new()))),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(items.into()));
                }
                0x85 => {
                    let t = self.pop_tuple(1)?;
                    self.push(t);
                }
                0x86 => {
                    let t = self.pop_tuple(2)?;
                    self.push(t);
                }
                0x87 => {
                    let t = self.pop_tuple(3)?;
                    self.push(t);
                }
                b'X' => {
                    // BINUNICODE
                    let n = self.u32()? as usize;
                    let s = self.take(n)?;
                    let v = self.utf8(s)?;
                    self.push(v);
                }
                0x8c => {
                    // SHORT_BINUNICODE
                    let n = self.u8()? as usize;
                    let s = self.take(n)?;
                    let v = self.utf8(s)?;
                    self.push(v);
                }
                0x8d => {
                    // BINUNICODE8
                    let n = self.len_u64()?;
                    let s = self.take(n)?;
                    let v = self.utf8(s)?;
                    self.push(v);
                }
                b'T' | b'U' => {
                    // BINSTRING / SHORT_BINSTRING: Python 2 str. Python 3 decodes them
                    // as ASCII by default; Latin-1 accepts a superset without failing.
                    let n = if op == b'T' {
                        let n = self.u32()? as i32;
                        if n < 0 {
                            return self.err(format!("negative BINSTRING length {n}"));
                        }
                        n as usize
                    } else {
                        self.u8()? as usize
                    };
                    let s: String = self.take(n)?.iter().map(|&b| b as char).collect();
                    self.push(Value::Str(Rc::from(s)));
                }
                b'B' | b'C' | 0x8e => {
                    // BINBYTES / SHORT_BINBYTES / BINBYTES8
                    let n = match op {
                        b'B' => self.u32()? as usize,
                        b'C' => self.u8()? as usize,
                        _ => self.len_u64()?,
                    };
                    let b = self.take(n)?;
                    self.push(Value::Bytes(Rc::from(b)));
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Value::Int(i64::from(v)));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Value::Int(i64::from(v)));
                }
                0x8a | 0x8b => {
                    // LONG1 / LONG4: little-endian two's complement of n bytes.
                    let n = if op == 0x8a {
                        self.u8()? as usize
                    } else {
                        let n = self.u32()? as i32;
                        if n < 0 {
                            return self.err(format!("negative LONG4 length {n}"));
                        }
                        n as usize
                    };
                    let bytes = self.take(n)?;
                    self.push(decode_long(bytes));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.take(8)?.try_into().unwrap_or_default());
                    self.push(Value::Float(v));
                }
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    self.push(Value::Global(Rc::new((module, name))));
                }
                0x93 => {
                    // STACK_GLOBAL
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => {
                            self.push(Value::Global(Rc::new((m.to_string(), n.to_string()))))
                        }
                        (m, n) => {
                            return self.err(format!(
                                "STACK_GLOBAL needs two strings, got {} and {}",
                                m.describe(),
                                n.describe()
                            ))
                        }
                    }
                }
                b'R' => {
                    // REDUCE
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let Value::Tuple(args) = args else {
                        return self.err(format!("REDUCE arguments are {}", args.describe()));
                    };
                    match call(&callable, &args) {
                        Ok(v) => self.push(v),
                        Err(message) => return self.err(message),
                    }
                }
                0x81 | 0x92 => {
                    // NEWOBJ / NEWOBJ_EX: cls.__new__(cls, *args); attributes follow via BUILD.
                    if op == 0x92 {
                        self.pop()?; // kwargs
                    }
                    let _args = self.pop()?;
                    let cls = self.pop()?;
                    let v = match &cls {
                        Value::Global(g) if is_dict_class(g) => Value::new_dict(),
                        other => Value::Opaque(Rc::from(format!(
                            "an object created by NEWOBJ of {}",
                            other.describe()
                        ))),
                    };
                    self.push(v);
                }
                b'b' => {
                    // BUILD sets attributes (an OrderedDict's `_metadata`, a Parameter's
                    // extra state); none of them changes tensor contents, so the state is
                    // dropped. The object stays on the stack.
                    self.pop()?;
                    self.top()?;
                }
                b'Q' => {
                    // BINPERSID
                    let pid = self.pop()?;
                    match persistent_load(&pid) {
                        Ok(v) => self.push(v),
                        Err(message) => return self.err(message),
                    }
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    match self.top()? {
                        Value::Dict(d) => d.borrow_mut().insert(key, value),
                        other => {
                            let what = other.describe();
                            return self.err(format!("SETITEM on {what}, not a dict"));
                        }
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return self.err(format!(
                            "SETITEMS with an odd number ({}) of items",
                            items.len()
                        ));
                    }
                    match self.top()? {
                        Value::Dict(d) => {
                            let mut d = d.borrow_mut();
                            let mut it = items.into_iter();
                            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                                d.insert(k, v);
                            }
                        }
                        other => {
                            let what = other.describe();
                            return self.err(format!("SETITEMS on {what}, not a dict"));
                        }
                    }
                }
                b'a' | b'e' | 0x90 => {
                    // APPEND / APPENDS / ADDITEMS (sets are modelled as lists)
                    let items = if op == b'a' {
                        vec![self.pop()?]
                    } else {
                        self.pop_mark()?
                    };
                    match self.top()? {
                        Value::List(l) => l.borrow_mut().extend(items),
                        other => {
                            let what = other.describe();
                            return self.err(format!("APPEND on {what}, not a list"));
                        }
                    }
                }
                0x8f => self.push(Value::List(Rc::new(RefCell::new(Vec::new())))), // EMPTY_SET
                0x91 => {
                    // FROZENSET
                    let items = self.pop_mark()?;
                    self.push(Value::List(Rc::new(RefCell::new(items))));
                }
                0x94 => {
                    // MEMOIZE
                    let idx = u32::try_from(self.memo.len()).unwrap_or(u32::MAX);
                    self.memo_put(idx)?;
                }
                b'q' => {
                    let idx = u32::from(self.u8()?);
                    self.memo_put(idx)?;
                }
                b'r' => {
                    let idx = self.u32()?;
                    self.memo_put(idx)?;
                }
                b'h' => {
                    let idx = u32::from(self.u8()?);
                    self.memo_get(idx)?;
                }
                b'j' => {
                    let idx = self.u32()?;
                    self.memo_get(idx)?;
                }
                b'0' => {
                    // POP: discards the top item, or the innermost MARK if it is on top.
                    match self.marks.last() {
                        Some(&m) if m == self.stack.len() => {
                            self.marks.pop();
                        }
                        _ => {
                            self.pop()?;
                        }
                    }
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v);
                }
                _ => return self.err(format!("unsupported pickle opcode 0x{op:02x}")),
            }
        }
    }
}

fn decode_long(bytes: &[u8]) -> Value {
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

fn is_dict_class(g: &(String, String)) -> bool {
    matches!(
        (g.0.as_str(), g.1.as_str()),
        ("collections", "OrderedDict") | ("builtins", "dict") | ("__builtin__", "dict")
    )
}

fn storage_dtype(g: &(String, String)) -> Option<DType> {
    if g.0 != "torch" {
        return None;
    }
    Some(match g.1.as_str() {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "BoolStorage" => DType::Bool,
        _ => return None,
    })
}

/// torch's `persistent_load`: `('storage', storage_type, key, location, numel)`.
/// The location ('cpu', 'cuda:0', ...) is irrelevant to the bytes and is ignored.
fn persistent_load(pid: &Value) -> Result<Value, String> {
    let Value::Tuple(t) = pid else {
        return Err(format!(
            "persistent id is {}, expected a tuple",
            pid.describe()
        ));
    };
    match t.first() {
        Some(Value::Str(s)) if &**s == "storage" => {}
        Some(other) => {
            return Err(format!(
                "unsupported persistent id kind {}",
                other.describe()
            ));
        }
        None => return Err("empty persistent id".into()),
    }
    if t.len() != 5 {
        return Err(format!(
            "storage persistent id has {} fields, expected 5",
            t.len()
        ));
    }
    let Value::Global(class) = &t[1] else {
        return Err(format!(
            "storage type is {}, expected a global",
            t[1].describe()
        ));
    };
    let key = match &t[2] {
        Value::Str(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        other => return Err(format!("storage key is {}", other.describe())),
    };
    let numel = match &t[4] {
        Value::Int(n) if *n >= 0 => *n as u64,
        other => {
            return Err(format!(
                "storage '{key}' has element count {}",
                other.describe()
            ))
        }
    };
    match storage_dtype(class) {
        Some(dtype) => Ok(Value::Storage(Rc::new(StorageRef { dtype, key, numel }))),
        None => Ok(Value::Opaque(Rc::from(format!(
            "storage '{key}' of unsupported type {}.{}",
            class.0, class.1
        )))),
    }
}

fn int_tuple(v: &Value, what: &str) -> Result<Vec<u64>, String> {
    let items: Vec<Value> = match v {
        Value::Tuple(t) => t.to_vec(),
        Value::List(l) => l.borrow().clone(),
        other => {
            return Err(format!(
                "tensor {what} is {}, expected a tuple",
                other.describe()
            ))
        }
    };
    items
        .iter()
        .map(|x| match x {
            Value::Int(i) if *i >= 0 => Ok(*i as u64),
            other => Err(format!("tensor {what} contains {}", other.describe())),
        })
        .collect()
}

fn rebuild_tensor(args: &[Value], name: &str) -> Result<Value, String> {
    let storage = match &args[0] {
        Value::Storage(s) => s.clone(),
        // An unsupported storage type: the tensor is unusable but may be irrelevant.
        Value::Opaque(what) => {
            return Ok(Value::UnsupportedTensor(Rc::from(format!(
                "a tensor on {what}"
            ))))
        }
        other => return Err(format!("{name}: storage argument is {}", other.describe())),
    };
    let offset = match &args[1] {
        Value::Int(i) if *i >= 0 => *i as u64,
        other => return Err(format!("{name}: storage offset is {}", other.describe())),
    };
    let shape = int_tuple(&args[2], "size")?;
    let stride = int_tuple(&args[3], "stride")?;
    Ok(Value::Tensor(Rc::new(TensorRef {
        storage,
        offset,
        shape,
        stride,
    })))
}

/// Interprets REDUCE of the callables torch's state dicts use.
fn call(callable: &Value, args: &[Value]) -> Result<Value, String> {
    let Value::Global(g) = callable else {
        return Ok(Value::Opaque(Rc::from(format!(
            "the result of calling {}",
            callable.describe()
        ))));
    };
    let (module, name) = (g.0.as_str(), g.1.as_str());
    let arity = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{module}.{name} called with {} arguments",
                args.len()
            ))
        }
    };
    match (module, name) {
        _ if is_dict_class(g) => {
            let d = Value::new_dict();
            if let Some(items) = args.first() {
                arity(args.len() == 1)?;
                let pairs: Vec<Value> = match items {
                    Value::List(l) => l.borrow().clone(),
                    Value::Tuple(t) => t.to_vec(),
                    other => return Err(format!("{module}.{name} of {}", other.describe())),
                };
                let Value::Dict(dict) = &d else {
                    unreachable!("just built a dict")
                };
                for p in pairs {
                    match p {
                        Value::Tuple(kv) if kv.len() == 2 => {
                            dict.borrow_mut().insert(kv[0].clone(), kv[1].clone())
                        }
                        other => {
                            return Err(format!("{module}.{name} item is {}", other.describe()))
                        }
                    }
                }
            }
            Ok(d)
        }
        ("torch._utils", "_rebuild_tensor_v2") => {
            // (storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
            arity(args.len() == 6 || args.len() == 7)?;
            rebuild_tensor(args, name)
        }
        ("torch._utils", "_rebuild_tensor") => {
            arity(args.len() == 4)?;
            rebuild_tensor(args, name)
        }
        ("torch._utils", "_rebuild_parameter")
        | ("torch._utils", "_rebuild_parameter_with_state") => {
            // (data, requires_grad, backward_hooks[, state]): a Parameter is its data.
            arity(args.len() == 3 || args.len() == 4)?;
            Ok(args[0].clone())
        }
        ("torch._tensor", "_rebuild_from_type_v2") => {
            // (func, new_type, func_args, state): a Tensor subclass wrapping func(*func_args).
            arity(args.len() == 4)?;
            let Value::Tuple(inner) = &args[2] else {
                return Err(format!("{name}: arguments are {}", args[2].describe()));
            };
            call(&args[0], inner)
        }
        // Quantized, sparse, meta, nested and subclass tensors all rebuild through
        // `torch._utils._rebuild_*` (or `torch._tensor`) helpers.
        _ if module.starts_with("torch") && name.starts_with("_rebuild_") => {
            Ok(Value::UnsupportedTensor(Rc::from(format!(
                "a tensor built by unsupported global {module}.{name}"
            ))))
        }
        _ => Ok(Value::Opaque(Rc::from(format!(
            "an object built by unsupported global {module}.{name}"
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bu(s: &str) -> Vec<u8> {
        let mut v = vec![b'X'];
        v.extend((s.len() as u32).to_le_bytes());
        v.extend(s.as_bytes());
        v
    }

    fn run(parts: &[&[u8]]) -> Result<Value, PickleError> {
        unpickle(&parts.concat())
    }

    #[test]
    fn scalars_and_containers() {
        // [None, True, -2 (BININT), 300 (BININT2), 2**40 (LONG1), -1 (LONG1), 1.5, 'é']
        let long = [0x8a, 6, 0, 0, 0, 0, 0, 1];
        let v = run(&[
            b"\x80\x02]q\x00(N\x88J\xfe\xff\xff\xffM\x2c\x01",
            &long,
            b"\x8a\x01\xffG\x3f\xf8\x00\x00\x00\x00\x00\x00",
            b"\x8c\x02\xc3\xa9e.",
        ])
        .unwrap();
        let Value::List(l) = v else {
            panic!("not a list: {v:?}")
        };
        let l = l.borrow();
        assert!(matches!(l[0], Value::None));
        assert!(matches!(l[1], Value::Bool(true)));
        assert!(matches!(l[2], Value::Int(-2)));
        assert!(matches!(l[3], Value::Int(300)));
        assert!(matches!(l[4], Value::Int(v) if v == 1 << 40));
        assert!(matches!(l[5], Value::Int(-1)));
        assert!(matches!(l[6], Value::Float(f) if f == 1.5));
        assert!(matches!(&l[7], Value::Str(s) if &**s == "é"));
    }

    #[test]
    fn wide_long_is_opaque_not_wrong() {
        let v = run(&[b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01."]).unwrap();
        assert!(matches!(v, Value::Opaque(_)), "{v:?}");
        // 2**63 needs a ninth zero byte; must not wrap to a negative i64.
        let v = run(&[b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00."]).unwrap();
        assert!(matches!(v, Value::Opaque(_)), "{v:?}");
    }

    #[test]
    fn ordered_dict_with_metadata_build_as_python_writes_it() {
        // pickle.dumps(OrderedDict(a=1) with ._metadata = OrderedDict({'': {'version': 1}}), 2)
        let v = run(&[
            b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01",
            &bu("a"),
            b"q\x02K\x01s}q\x03",
            &bu("_metadata"),
            b"q\x04h\x00)Rq\x05",
            &bu(""),
            b"q\x06}q\x07",
            &bu("version"),
            b"q\x08K\x01sssb.",
        ])
        .unwrap();
        let Value::Dict(d) = v else {
            panic!("not a dict: {v:?}")
        };
        let d = d.borrow();
        assert_eq!(d.entries.len(), 1);
        assert!(matches!(d.get_str("a"), Some(Value::Int(1))));
    }

    #[test]
    fn memo_shares_mutable_dicts_and_setitem_replaces() {
        // d = {}; memo d; d['k'] = 1; [d, d] via BINGET; d['k'] = 2 after the fact.
        let v = run(&[
            b"\x80\x02}q\x00",
            &bu("k"),
            b"K\x01s(h\x00h\x00t",
            &bu("k"),
            b"K\x02s.",
        ]);
        // The last SETITEM targets the tuple on top, which is an error, proving SETITEM
        // checks its target.
        assert!(v.unwrap_err().message.contains("SETITEM on a tuple"));
        let v = run(&[
            b"\x80\x02}q\x00",
            &bu("k"),
            b"K\x01sh\x00",
            &bu("k"),
            b"K\x02s0.",
        ])
        .unwrap();
        let Value::Dict(d) = v else { panic!("{v:?}") };
        let d = d.borrow();
        assert_eq!(d.entries.len(), 1, "repeated key must replace");
        assert!(matches!(d.get_str("k"), Some(Value::Int(2))));
    }

    #[test]
    fn protocol4_stack_global_memoize_frame() {
        let v = run(&[
            b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00",
            b"\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94.",
        ])
        .unwrap();
        assert!(matches!(v, Value::Dict(_)), "{v:?}");
    }

    #[test]
    fn unknown_global_becomes_opaque_naming_it() {
        let v = run(&[b"\x80\x02cnumpy.core.multiarray\nscalar\n)R."]).unwrap();
        assert!(
            v.describe().contains("numpy.core.multiarray.scalar"),
            "{}",
            v.describe()
        );
    }

    #[test]
    fn unsupported_opcode_is_named_with_position() {
        // 0x49 'I' (text INT) is outside the supported subset.
        let e = run(&[b"\x80\x02I1\n."]).unwrap_err();
        assert_eq!(e.pos, 2);
        assert_eq!(e.to_string(), "unsupported pickle opcode 0x49 at byte 2");
    }

    #[test]
    fn truncations_and_malformed_programs_are_errors() {
        let whole = [b"\x80\x02}q\x00(".as_slice(), &bu("key"), b"K\x05u."].concat();
        assert!(unpickle(&whole).is_ok());
        for cut in 0..whole.len() {
            let e = unpickle(&whole[..cut]).unwrap_err();
            assert!(
                e.message.contains("truncated") || e.message.contains("underflow"),
                "cut {cut}: {e}"
            );
        }
        assert!(run(&[b"\x80\x02."])
            .unwrap_err()
            .message
            .contains("underflow"));
        assert!(run(&[b"\x80\x02h\x07."])
            .unwrap_err()
            .message
            .contains("memo slot 7"));
        assert!(run(&[b"\x80\x02t."]).unwrap_err().message.contains("MARK"));
        assert!(run(&[b"\x80\x02}(K\x01u."])
            .unwrap_err()
            .message
            .contains("odd"));
        // A string whose declared length runs past the end must not allocate or panic.
        assert!(run(&[b"\x80\x02X\xff\xff\xff\xff"])
            .unwrap_err()
            .message
            .contains("truncated"));
        assert!(run(&[b"\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff"]).is_err());
        // Popping across a MARK is an underflow, not a silent frame corruption.
        assert!(run(&[b"\x80\x02K\x01(\x85."])
            .unwrap_err()
            .message
            .contains("underflow"));
        assert!(run(&[b"\x80\x09."])
            .unwrap_err()
            .message
            .contains("protocol 9"));
    }

    #[test]
    fn persistent_id_with_cuda_location_and_bad_ids() {
        let pid = |loc: &str| {
            [
                b"\x80\x02(".as_slice(),
                &bu("storage"),
                b"ctorch\nHalfStorage\n",
                &bu("3"),
                &bu(loc),
                b"K\x07tQ.",
            ]
            .concat()
        };
        for loc in ["cpu", "cuda:0", "mps"] {
            let v = unpickle(&pid(loc)).unwrap();
            let Value::Storage(s) = v else {
                panic!("{v:?}")
            };
            assert_eq!((s.dtype, s.key.as_str(), s.numel), (DType::F16, "3", 7));
        }
        let e = run(&[b"\x80\x02(", &bu("module"), b"tQ."]).unwrap_err();
        assert!(
            e.message
                .contains("unsupported persistent id kind the string 'module'"),
            "{e}"
        );
        let v = run(&[
            b"\x80\x02(",
            &bu("storage"),
            b"ctorch\nComplexFloatStorage\n",
            &bu("0"),
            &bu("cpu"),
            b"K\x01tQ.",
        ])
        .unwrap();
        assert!(
            v.describe().contains("torch.ComplexFloatStorage"),
            "{}",
            v.describe()
        );
    }
}
