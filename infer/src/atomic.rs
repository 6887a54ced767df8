//! Writing files so that readers never see half of one: the project's one atomic
//! writer lives in the lowest crate, [`zoo::atomic`], and is re-exported here.

pub use zoo::atomic::*;
