//! The table check shared by `tests/abi.rs` and `tests/abi_types.rs`:
//! rows of (C name, our constant, the header's value).
#![allow(dead_code, unused_macros)]

/// One row: the C name, our constant (widened to `i128` so signed and
/// unsigned constants share a table), and the header's value.
pub type Row = (&'static str, i128, i128);

#[macro_export]
macro_rules! rows {
    ($($name:ident => $header:expr),* $(,)?) => {
        &[$((stringify!($name), $name as i128, ($header) as i128)),*]
    };
}

pub fn check(group: &str, rows: &[Row]) {
    let mut bad = Vec::new();
    for &(name, ours, header) in rows {
        if ours != header {
            bad.push(format!("{name}: ours {ours:#x}, header {header:#x}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{group} differs from the header:\n{}",
        bad.join("\n")
    );
}
