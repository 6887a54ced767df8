//! A pickle virtual machine for the subset of protocols 2-5 that `torch.save` writes.
//!
//! Nothing is ever executed. Globals are recorded by name and only a fixed set of
//! `torch` / `collections` callables is interpreted (tensor and parameter rebuilds,
//! `OrderedDict`, storage classes). Calling any other global yields an
//! [`Value::Opaque`] naming it rather than an error, because trainer checkpoints often
//! carry unrelated objects (numpy scalars, `torch.device`, ...) next to the state dict;
//! the caller turns an opaque value into an error only when it needs its content.
//! Opcodes outside the subset are a hard error: the machine cannot continue past them.

mod machine;
mod opcode;
mod torch;
mod value;

use std::fmt;

#[cfg(test)]
use super::DType;
pub(crate) use value::{Dict, TensorRef, Value};

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
    machine::Machine::new(data).run()
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
