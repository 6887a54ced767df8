//! The pickle machine: a stack, MARKs and a memo, stepping through the opcodes of
//! [`OpCode`]. Python values are built here; torch's callables are interpreted in
//! `torch`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::opcode::OpCode;
use super::torch::{call, is_dict_class, persistent_load};
use super::value::{decode_long, Value};
use super::PickleError;

pub(super) struct Machine<'a> {
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
    pub(super) fn new(data: &'a [u8]) -> Self {
        Machine { data, pos: 0, op_pos: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new() }
    }

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

    /// Runs until STOP and returns the object it leaves on the stack.
    pub(super) fn run(mut self) -> Result<Value, PickleError> {
        loop {
            self.op_pos = self.pos;
            let Some(&byte) = self.data.get(self.pos) else {
                return self.err("pickle truncated: ended without a STOP opcode");
            };
            self.pos += 1;
            let Ok(op) = OpCode::try_from(byte) else {
                return self.err(format!("unsupported pickle opcode 0x{byte:02x}"));
            };
            if op == OpCode::Stop {
                return self.pop();
            }
            self.step(op)?;
        }
    }

    fn step(&mut self, op: OpCode) -> Result<(), PickleError> {
        use OpCode::*;
        match op {
            Proto => {
                let v = self.u8()?;
                if !(2..=5).contains(&v) {
                    return self.err(format!("unsupported pickle protocol {v}"));
                }
            }
            // A read-ahead hint; the framed opcodes follow inline.
            Frame => {
                self.take(8)?;
            }
            Stop => unreachable!("handled by run"),
            Mark => self.marks.push(self.stack.len()),
            EmptyDict => self.push(Value::new_dict()),
            EmptyList | EmptySet => self.push(Value::List(Rc::new(RefCell::new(Vec::new())))),
            EmptyTuple => self.push(Value::Tuple(Rc::from(Vec::new()))),
            Tuple => {
                let items = self.pop_mark()?;
                self.push(Value::Tuple(items.into()));
            }
            Tuple1 | Tuple2 | Tuple3 => {
                let n = match op {
                    Tuple1 => 1,
                    Tuple2 => 2,
                    _ => 3,
                };
                let t = self.pop_tuple(n)?;
                self.push(t);
            }
            BinUnicode | ShortBinUnicode | BinUnicode8 | BinString | ShortBinString => self.string(op)?,
            BinBytes | ShortBinBytes | BinBytes8 => self.bytes(op)?,
            BinInt | BinInt1 | BinInt2 | Long1 | Long4 => self.int(op)?,
            BinFloat => {
                let v = f64::from_be_bytes(self.take(8)?.try_into().unwrap_or_default());
                self.push(Value::Float(v));
            }
            None => self.push(Value::None),
            NewTrue => self.push(Value::Bool(true)),
            NewFalse => self.push(Value::Bool(false)),
            Global | StackGlobal => self.global(op)?,
            Reduce | NewObj | NewObjEx | Build | BinPersId => self.object(op)?,
            SetItem | SetItems | Append | Appends | AddItems | FrozenSet => self.collection(op)?,
            Memoize | BinPut | LongBinPut | BinGet | LongBinGet => self.memo(op)?,
            Pop => {
                // Discards the top item, or the innermost MARK if it is on top.
                match self.marks.last() {
                    Some(&m) if m == self.stack.len() => {
                        self.marks.pop();
                    }
                    _ => {
                        self.pop()?;
                    }
                }
            }
            PopMark => {
                self.pop_mark()?;
            }
            Dup => {
                let v = self.top()?.clone();
                self.push(v);
            }
        }
        Ok(())
    }

    fn string(&mut self, op: OpCode) -> Result<(), PickleError> {
        let v = match op {
            OpCode::BinUnicode | OpCode::ShortBinUnicode | OpCode::BinUnicode8 => {
                let n = match op {
                    OpCode::BinUnicode => self.u32()? as usize,
                    OpCode::ShortBinUnicode => self.u8()? as usize,
                    _ => self.len_u64()?,
                };
                let s = self.take(n)?;
                self.utf8(s)?
            }
            // BINSTRING / SHORT_BINSTRING: Python 2 str. Python 3 decodes them as ASCII
            // by default; Latin-1 accepts a superset without failing.
            _ => {
                let n = if op == OpCode::BinString {
                    let n = self.u32()? as i32;
                    if n < 0 {
                        return self.err(format!("negative BINSTRING length {n}"));
                    }
                    n as usize
                } else {
                    self.u8()? as usize
                };
                let s: String = self.take(n)?.iter().map(|&b| b as char).collect();
                Value::Str(Rc::from(s))
            }
        };
        self.push(v);
        Ok(())
    }

    fn bytes(&mut self, op: OpCode) -> Result<(), PickleError> {
        let n = match op {
            OpCode::BinBytes => self.u32()? as usize,
            OpCode::ShortBinBytes => self.u8()? as usize,
            _ => self.len_u64()?,
        };
        let b = self.take(n)?;
        self.push(Value::Bytes(Rc::from(b)));
        Ok(())
    }

    fn int(&mut self, op: OpCode) -> Result<(), PickleError> {
        let v = match op {
            OpCode::BinInt => Value::Int(i64::from(self.u32()? as i32)),
            OpCode::BinInt1 => Value::Int(i64::from(self.u8()?)),
            OpCode::BinInt2 => Value::Int(i64::from(self.u16()?)),
            // LONG1 / LONG4: little-endian two's complement of n bytes.
            _ => {
                let n = if op == OpCode::Long1 {
                    self.u8()? as usize
                } else {
                    let n = self.u32()? as i32;
                    if n < 0 {
                        return self.err(format!("negative LONG4 length {n}"));
                    }
                    n as usize
                };
                decode_long(self.take(n)?)
            }
        };
        self.push(v);
        Ok(())
    }

    fn global(&mut self, op: OpCode) -> Result<(), PickleError> {
        if op == OpCode::Global {
            let module = self.line()?.to_string();
            let name = self.line()?.to_string();
            self.push(Value::Global(Rc::new((module, name))));
            return Ok(());
        }
        let name = self.pop()?;
        let module = self.pop()?;
        match (module, name) {
            (Value::Str(m), Value::Str(n)) => self.push(Value::Global(Rc::new((m.to_string(), n.to_string())))),
            (m, n) => {
                return self.err(format!("STACK_GLOBAL needs two strings, got {} and {}", m.describe(), n.describe()))
            }
        }
        Ok(())
    }

    /// REDUCE, NEWOBJ(_EX), BUILD and BINPERSID: where torch semantics come in.
    fn object(&mut self, op: OpCode) -> Result<(), PickleError> {
        match op {
            OpCode::Reduce => {
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
            OpCode::NewObj | OpCode::NewObjEx => {
                // cls.__new__(cls, *args); attributes follow via BUILD.
                if op == OpCode::NewObjEx {
                    self.pop()?; // kwargs
                }
                let _args = self.pop()?;
                let cls = self.pop()?;
                let v = match &cls {
                    Value::Global(g) if is_dict_class(g) => Value::new_dict(),
                    other => Value::Opaque(Rc::from(format!("an object created by NEWOBJ of {}", other.describe()))),
                };
                self.push(v);
            }
            OpCode::Build => {
                // BUILD sets attributes (an OrderedDict's `_metadata`, a Parameter's
                // extra state); none of them changes tensor contents, so the state is
                // dropped. The object stays on the stack.
                self.pop()?;
                self.top()?;
            }
            _ => {
                let pid = self.pop()?;
                match persistent_load(&pid) {
                    Ok(v) => self.push(v),
                    Err(message) => return self.err(message),
                }
            }
        }
        Ok(())
    }

    fn collection(&mut self, op: OpCode) -> Result<(), PickleError> {
        match op {
            OpCode::SetItem => {
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
            OpCode::SetItems => {
                let items = self.pop_mark()?;
                if items.len() % 2 != 0 {
                    return self.err(format!("SETITEMS with an odd number ({}) of items", items.len()));
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
            OpCode::FrozenSet => {
                let items = self.pop_mark()?;
                self.push(Value::List(Rc::new(RefCell::new(items))));
            }
            // APPEND / APPENDS / ADDITEMS (sets are modelled as lists)
            _ => {
                let items = if op == OpCode::Append { vec![self.pop()?] } else { self.pop_mark()? };
                match self.top()? {
                    Value::List(l) => l.borrow_mut().extend(items),
                    other => {
                        let what = other.describe();
                        return self.err(format!("APPEND on {what}, not a list"));
                    }
                }
            }
        }
        Ok(())
    }

    fn memo(&mut self, op: OpCode) -> Result<(), PickleError> {
        match op {
            OpCode::Memoize => {
                let idx = u32::try_from(self.memo.len()).unwrap_or(u32::MAX);
                self.memo_put(idx)
            }
            OpCode::BinPut => {
                let idx = u32::from(self.u8()?);
                self.memo_put(idx)
            }
            OpCode::LongBinPut => {
                let idx = self.u32()?;
                self.memo_put(idx)
            }
            OpCode::BinGet => {
                let idx = u32::from(self.u8()?);
                self.memo_get(idx)
            }
            _ => {
                let idx = self.u32()?;
                self.memo_get(idx)
            }
        }
    }
}
