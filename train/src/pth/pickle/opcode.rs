//! The opcodes of pickle protocols 2-5 that `torch.save` writes (CPython's
//! `Lib/pickletools.py` names them). Anything else is a hard error.

/// A pickle opcode this machine interprets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpCode {
    Proto,
    Frame,
    Stop,
    Mark,
    EmptyDict,
    EmptyList,
    EmptyTuple,
    Tuple,
    Tuple1,
    Tuple2,
    Tuple3,
    BinUnicode,
    ShortBinUnicode,
    BinUnicode8,
    BinString,
    ShortBinString,
    BinBytes,
    ShortBinBytes,
    BinBytes8,
    BinInt,
    BinInt1,
    BinInt2,
    Long1,
    Long4,
    BinFloat,
    None,
    NewTrue,
    NewFalse,
    Global,
    StackGlobal,
    Reduce,
    NewObj,
    NewObjEx,
    Build,
    BinPersId,
    SetItem,
    SetItems,
    Append,
    Appends,
    AddItems,
    EmptySet,
    FrozenSet,
    Memoize,
    BinPut,
    LongBinPut,
    BinGet,
    LongBinGet,
    Pop,
    PopMark,
    Dup,
}

impl TryFrom<u8> for OpCode {
    /// The unsupported byte.
    type Error = u8;

    fn try_from(b: u8) -> Result<OpCode, u8> {
        use OpCode::*;
        Ok(match b {
            0x80 => Proto,
            0x95 => Frame,
            b'.' => Stop,
            b'(' => Mark,
            b'}' => EmptyDict,
            b']' => EmptyList,
            b')' => EmptyTuple,
            b't' => Tuple,
            0x85 => Tuple1,
            0x86 => Tuple2,
            0x87 => Tuple3,
            b'X' => BinUnicode,
            0x8c => ShortBinUnicode,
            0x8d => BinUnicode8,
            b'T' => BinString,
            b'U' => ShortBinString,
            b'B' => BinBytes,
            b'C' => ShortBinBytes,
            0x8e => BinBytes8,
            b'J' => BinInt,
            b'K' => BinInt1,
            b'M' => BinInt2,
            0x8a => Long1,
            0x8b => Long4,
            b'G' => BinFloat,
            b'N' => None,
            0x88 => NewTrue,
            0x89 => NewFalse,
            b'c' => Global,
            0x93 => StackGlobal,
            b'R' => Reduce,
            0x81 => NewObj,
            0x92 => NewObjEx,
            b'b' => Build,
            b'Q' => BinPersId,
            b's' => SetItem,
            b'u' => SetItems,
            b'a' => Append,
            b'e' => Appends,
            0x90 => AddItems,
            0x8f => EmptySet,
            0x91 => FrozenSet,
            0x94 => Memoize,
            b'q' => BinPut,
            b'r' => LongBinPut,
            b'h' => BinGet,
            b'j' => LongBinGet,
            b'0' => Pop,
            b'1' => PopMark,
            b'2' => Dup,
            other => return Err(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_maps_to_at_most_one_opcode_and_unknown_bytes_are_returned() {
        let known: Vec<OpCode> = (0..=255u8).filter_map(|b| OpCode::try_from(b).ok()).collect();
        assert_eq!(known.len(), 50);
        for (i, a) in known.iter().enumerate() {
            assert!(!known[i + 1..].contains(a), "{a:?} twice");
        }
        assert_eq!(OpCode::try_from(b'I'), Err(b'I'));
    }
}
