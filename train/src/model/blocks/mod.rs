//! The Prix Fixe block families (models.md §2), one module each. A family is
//! registered in `family::builtin`.

pub mod autosome;
pub mod bhi;
pub mod camformer;
pub mod deepgxp;
pub mod identity;
pub mod legnet;
pub mod regression;
pub mod soft_bins;
pub mod unlock_dna;
pub mod wztr;

/// The channel agreement every block checks against what precedes it.
pub fn check_input(slot: &str, takes: usize, given: usize, source: &str) -> Result<(), String> {
    if takes != given {
        return Err(format!("{slot} block takes {takes} channels but {source} {given}"));
    }
    Ok(())
}
