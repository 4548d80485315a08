//! Turns raw numbers (from a fuzzer or a property-test generator) into
//! [`Op`]s biased toward the interesting: live handles, pages of the window,
//! lengths of a few pages, mostly-valid option bits, with a share of
//! arbitrary values for everything.

use crate::abi::{
    ZX_RIGHT_DUPLICATE, ZX_RIGHT_EXECUTE, ZX_RIGHT_MAP, ZX_RIGHT_OP_CHILDREN, ZX_RIGHT_READ,
    ZX_RIGHT_RESIZE, ZX_RIGHT_SAME_RIGHTS, ZX_RIGHT_TRANSFER, ZX_RIGHT_WRITE, ZX_VM_ALLOW_FAULTS,
    ZX_VM_CAN_MAP_EXECUTE, ZX_VM_CAN_MAP_READ, ZX_VM_CAN_MAP_SPECIFIC, ZX_VM_CAN_MAP_WRITE,
    ZX_VM_COMPACT, ZX_VM_MAP_RANGE, ZX_VM_OFFSET_IS_UPPER_LIMIT, ZX_VM_PERM_EXECUTE,
    ZX_VM_PERM_READ, ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED, ZX_VM_PERM_WRITE,
    ZX_VM_REQUIRE_NON_RESIZABLE, ZX_VM_SPECIFIC, ZX_VM_SPECIFIC_OVERWRITE, ZX_VMO_CHILD_NO_WRITE,
    ZX_VMO_CHILD_REFERENCE, ZX_VMO_CHILD_RESIZABLE, ZX_VMO_CHILD_SLICE, ZX_VMO_CHILD_SNAPSHOT,
    ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE, ZX_VMO_CHILD_SNAPSHOT_MODIFIED, ZX_VMO_RESIZABLE,
};
use crate::platform::PAGE_SIZE;
use crate::trap::Access;

use super::driver::{AddrRef, HandleRef, Op, WINDOW_PAGES};

/// The raw material of one operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawOp {
    /// Which operation.
    pub kind: u8,
    /// First handle choice.
    pub h1: u8,
    /// Second handle choice.
    pub h2: u8,
    /// Option and flag choices.
    pub flags: u32,
    /// First number (address, offset, size).
    pub x: u64,
    /// Second number.
    pub y: u64,
    /// Third number.
    pub z: u64,
}

const PERMS: [u32; 8] = [
    ZX_VM_PERM_READ,
    ZX_VM_PERM_READ | ZX_VM_PERM_WRITE,
    ZX_VM_PERM_READ | ZX_VM_PERM_WRITE,
    ZX_VM_PERM_READ,
    ZX_VM_PERM_READ | ZX_VM_PERM_EXECUTE,
    0,
    ZX_VM_PERM_WRITE,
    ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED,
];
/// `(flag, log2 of the odds against it)`.
const MAP_FLAGS: [(u32, u32); 8] = [
    (ZX_VM_SPECIFIC_OVERWRITE, 3),
    (ZX_VM_MAP_RANGE, 2),
    (ZX_VM_ALLOW_FAULTS, 2),
    (ZX_VM_REQUIRE_NON_RESIZABLE, 2),
    (ZX_VM_OFFSET_IS_UPPER_LIMIT, 4),
    (ZX_VM_CAN_MAP_READ, 5),
    (ZX_VM_COMPACT, 5),
    (ZX_VM_CAN_MAP_SPECIFIC, 5),
];

const ALLOC_FLAGS: [(u32, u32); 8] = [
    (ZX_VM_CAN_MAP_READ, 1),
    (ZX_VM_CAN_MAP_WRITE, 1),
    (ZX_VM_CAN_MAP_EXECUTE, 1),
    (ZX_VM_CAN_MAP_SPECIFIC, 1),
    (ZX_VM_OFFSET_IS_UPPER_LIMIT, 4),
    (ZX_VM_COMPACT, 3),
    (ZX_VM_PERM_READ, 5),
    (ZX_VM_SPECIFIC_OVERWRITE, 5),
];

const RIGHTS: [u32; 8] = [
    ZX_RIGHT_SAME_RIGHTS,
    ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER | ZX_RIGHT_OP_CHILDREN,
    ZX_RIGHT_DUPLICATE | ZX_RIGHT_READ | ZX_RIGHT_MAP,
    ZX_RIGHT_DUPLICATE | ZX_RIGHT_READ | ZX_RIGHT_WRITE | ZX_RIGHT_MAP,
    ZX_RIGHT_DUPLICATE | ZX_RIGHT_READ | ZX_RIGHT_OP_CHILDREN,
    ZX_RIGHT_READ | ZX_RIGHT_WRITE | ZX_RIGHT_EXECUTE | ZX_RIGHT_MAP | ZX_RIGHT_DUPLICATE,
    ZX_RIGHT_WRITE | ZX_RIGHT_RESIZE | ZX_RIGHT_DUPLICATE,
    0,
];

/// `zx_vmo_create_child` options: mostly one supported kind (snapshots
/// first, sometimes resizable), sometimes a combination Zircon refuses.
const CHILD_OPTIONS: [u32; 16] = [
    ZX_VMO_CHILD_SNAPSHOT,
    ZX_VMO_CHILD_SNAPSHOT,
    ZX_VMO_CHILD_SNAPSHOT,
    ZX_VMO_CHILD_SNAPSHOT | ZX_VMO_CHILD_RESIZABLE,
    ZX_VMO_CHILD_SNAPSHOT | ZX_VMO_CHILD_RESIZABLE,
    ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
    ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
    ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | ZX_VMO_CHILD_RESIZABLE,
    ZX_VMO_CHILD_SLICE,
    ZX_VMO_CHILD_SLICE,
    ZX_VMO_CHILD_SLICE | ZX_VMO_CHILD_RESIZABLE,
    ZX_VMO_CHILD_SNAPSHOT | ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
    ZX_VMO_CHILD_SNAPSHOT | ZX_VMO_CHILD_NO_WRITE | ZX_VMO_CHILD_RESIZABLE,
    ZX_VMO_CHILD_SNAPSHOT_MODIFIED,
    ZX_VMO_CHILD_REFERENCE,
    0,
];

/// Sets each flag with odds 1 in 2^n, drawing from `bits` (a
/// splitmix-style scramble of it, so flags are independent).
fn some_of(flags: &[(u32, u32)], bits: u64) -> u32 {
    let mut x = bits;
    let mut out = 0;
    for &(flag, n) in flags {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ 0x5851_f42d;
        if (x >> 40) & ((1 << n) - 1) == 0 {
            out |= flag;
        }
    }
    out
}

/// Mostly a live handle of the type `vmar` says, sometimes any live
/// handle, rarely a raw value.
fn handle(h: u8, raw: u64, vmar: bool) -> HandleRef {
    match h {
        0..200 if vmar => HandleRef::Vmar(h % 16),
        0..200 => HandleRef::Vmo(h % 16),
        200..230 => HandleRef::Live(h % 16),
        _ => HandleRef::Raw(raw as u32),
    }
}

/// A page-multiple length of 1..=16 pages mostly; else small unaligned, or
/// an edge value.
fn len(x: u64) -> u64 {
    let r = x >> 4;
    match x % 16 {
        0..=11 => (r % 8 + 1) * PAGE_SIZE,
        12 | 13 => r % (3 * PAGE_SIZE),
        14 => [
            0,
            u64::MAX,
            u64::MAX - PAGE_SIZE + 2,
            1 << 63,
            WINDOW_PAGES * PAGE_SIZE,
        ][(r % 5) as usize],
        _ => r,
    }
}

/// An offset into the window (page multiple, sometimes past it), sometimes
/// unaligned or arbitrary.
fn offset(x: u64) -> u64 {
    let r = x >> 4;
    match x % 16 {
        0..=12 => (r % (WINDOW_PAGES + 8)) * PAGE_SIZE,
        13 | 14 => r % ((WINDOW_PAGES + 8) * PAGE_SIZE),
        _ => r,
    }
}

/// Mostly the start of a mapped run (give or take a page) or a page of
/// the window (a few pages either side), else arbitrary.
fn addr(x: u64) -> AddrRef {
    match x % 16 {
        0..=7 => {
            let delta = match (x >> 4) % 8 {
                0 => -1,
                1 => 1,
                2 => 2,
                _ => 0,
            };
            AddrRef::Mapped((x >> 8) as u8, delta)
        }
        8..=14 => {
            let page = ((x >> 4) % (WINDOW_PAGES + 6)) as i16 - 3;
            let byte = if (x >> 20).is_multiple_of(8) {
                ((x >> 24) % PAGE_SIZE) as u16
            } else {
                0
            };
            AddrRef::Page(page, byte)
        }
        _ => AddrRef::Raw(x >> 4),
    }
}

/// An alignment field: usually none, sometimes a valid or invalid one.
fn align_field(bits: u32) -> u32 {
    match bits % 16 {
        0 => 12 << 24,
        1 => 16 << 24,
        2 => (bits >> 4 & 0xff) << 24,
        _ => 0,
    }
}

/// Builds an operation from raw numbers.
pub fn op(r: RawOp) -> Op {
    let f = r.flags;
    let raw_options = f >> 28 == 0xf;
    match r.kind % 16 {
        0 => Op::VmoCreate {
            size: if r.x.is_multiple_of(8) {
                r.x >> 3
            } else {
                (r.x >> 3) % 24 * PAGE_SIZE
            },
            options: match f % 8 {
                0 | 2 => ZX_VMO_RESIZABLE,
                1 => f >> 3,
                _ => 0,
            },
        },
        2 if f.is_multiple_of(2) => Op::VmoRead {
            vmo: handle(r.h1, r.y, false),
            offset: offset(r.x),
        },
        2 => Op::VmoWrite {
            vmo: handle(r.h1, r.y, false),
            offset: offset(r.x),
            value: r.z as u8,
        },
        3 => Op::VmoSetSize {
            vmo: handle(r.h1, r.y, false),
            size: len(r.x),
        },
        4..=6 => {
            let specific = !(f >> 3).is_multiple_of(4);
            let options = if raw_options {
                r.z as u32
            } else {
                PERMS[(f % 8) as usize]
                    | if specific { ZX_VM_SPECIFIC } else { 0 }
                    | some_of(&MAP_FLAGS, u64::from(f >> 5))
                    | align_field(f >> 21)
            };
            let at = if specific || (f >> 13).is_multiple_of(4) {
                offset(r.x)
            } else {
                0
            };
            Op::Map {
                vmar: handle(r.h1, r.z, true),
                vmo: handle(r.h2, r.z >> 32, false),
                options,
                offset: at,
                vmo_offset: if r.y.is_multiple_of(4) {
                    offset(r.y >> 2)
                } else {
                    0
                },
                len: len(r.z),
            }
        }
        7 => Op::Unmap {
            vmar: handle(r.h1, r.z, true),
            addr: addr(r.x),
            len: len(r.y),
        },
        8 | 9 => Op::Protect {
            vmar: handle(r.h1, r.z, true),
            options: if raw_options {
                r.z as u32
            } else {
                let bad = [ZX_VM_SPECIFIC, ZX_VM_CAN_MAP_READ, 1 << 31, ZX_VM_MAP_RANGE];
                let extra = if (f >> 3).is_multiple_of(8) {
                    bad[((f >> 6) % 4) as usize]
                } else {
                    0
                };
                PERMS[(f % 8) as usize] | extra
            },
            addr: addr(r.x),
            len: len(r.y),
        },
        10 => {
            let specific = (f >> 3).is_multiple_of(2);
            let options = if raw_options {
                r.z as u32
            } else {
                some_of(&ALLOC_FLAGS, u64::from(f >> 5))
                    | if specific { ZX_VM_SPECIFIC } else { 0 }
                    | align_field(f >> 21)
            };
            let at = if specific || (f >> 13).is_multiple_of(4) {
                offset(r.x)
            } else {
                0
            };
            Op::Allocate {
                vmar: handle(r.h1, r.z, true),
                options,
                offset: at,
                size: len(r.y),
            }
        }
        11 if f.is_multiple_of(4) => Op::Destroy {
            vmar: handle(r.h1, r.z, true),
        },
        11 if f % 4 == 1 => Op::FailAfter {
            frames: ((f >> 2) % 4) as u8,
        },
        1 | 11 => Op::CreateChild {
            vmo: handle(r.h1, r.z, false),
            options: if raw_options {
                r.z as u32
            } else {
                CHILD_OPTIONS[((f >> 2) % 16) as usize]
            },
            offset: match r.x % 16 {
                // Near the end of the address space: overflow and
                // root-offset checks.
                15 => u64::MAX - ((r.x >> 4) % 4) * PAGE_SIZE - PAGE_SIZE + 1,
                14 => 1 << 63,
                _ => offset(r.x),
            },
            size: len(r.y),
        },
        12 => {
            let h = handle(r.h1, r.z, r.h2.is_multiple_of(4));
            let rights = if f % 16 == 15 {
                r.z as u32
            } else {
                RIGHTS[(f % 8) as usize]
            };
            match (f >> 4) % 8 {
                0..=4 => Op::Duplicate { handle: h, rights },
                5 | 6 => Op::Replace { handle: h, rights },
                _ => Op::Close { handle: h },
            }
        }
        _ => Op::Touch {
            addr: addr(r.x),
            access: match f % 4 {
                0 | 3 => Access::Read,
                1 => Access::Write,
                _ => Access::Execute,
            },
            value: r.y as u8,
        },
    }
}

/// Builds an operation from raw numbers, biased toward snapshot trees
/// under load: small VMOs, writes, children (mostly snapshots), mappings
/// placed anywhere in the window, loads and stores through them, closes,
/// resizes, unmaps and protects, and now and then a frame limit. Every
/// operation is mostly valid, so sequences get deep.
pub fn snapshot_op(r: RawOp) -> Op {
    const KINDS: [u32; 8] = [
        ZX_VMO_CHILD_SNAPSHOT,
        ZX_VMO_CHILD_SNAPSHOT,
        ZX_VMO_CHILD_SNAPSHOT | ZX_VMO_CHILD_RESIZABLE,
        ZX_VMO_CHILD_SNAPSHOT,
        ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
        ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | ZX_VMO_CHILD_RESIZABLE,
        ZX_VMO_CHILD_SLICE,
        ZX_VMO_CHILD_SNAPSHOT,
    ];
    let f = r.flags;
    let vmo = HandleRef::Vmo(r.h1 % 16);
    let page = |x: u64, n: u64| (x % n) * PAGE_SIZE;
    match r.kind % 16 {
        0 => Op::VmoCreate {
            size: page(r.x, 6) + PAGE_SIZE,
            options: if f.is_multiple_of(4) {
                ZX_VMO_RESIZABLE
            } else {
                0
            },
        },
        1 | 2 => Op::VmoWrite {
            vmo,
            offset: page(r.x, 8) + r.y % 4,
            value: r.z as u8,
        },
        3 | 4 => Op::CreateChild {
            vmo,
            options: KINDS[(f % 8) as usize],
            offset: page(r.x, 4),
            size: page(r.y, 6) + PAGE_SIZE,
        },
        5 => Op::Map {
            vmar: HandleRef::Vmar(0),
            options: if f.is_multiple_of(4) {
                ZX_VM_PERM_READ
            } else {
                ZX_VM_PERM_READ | ZX_VM_PERM_WRITE
            },
            offset: 0,
            vmo: HandleRef::Vmo(r.h2 % 16),
            vmo_offset: page(r.x, 3),
            len: page(r.y, 4) + PAGE_SIZE,
        },
        6..=8 => Op::Touch {
            addr: AddrRef::Mapped(r.h1, (r.x % 4) as i8),
            access: if f.is_multiple_of(2) {
                Access::Write
            } else {
                Access::Read
            },
            value: r.z as u8,
        },
        9 | 10 => Op::VmoRead {
            vmo,
            offset: page(r.x, 8) + r.y % 4,
        },
        11 => Op::Close { handle: vmo },
        12 => Op::VmoSetSize {
            vmo,
            size: page(r.x, 7),
        },
        13 => Op::Unmap {
            vmar: HandleRef::Vmar(0),
            addr: AddrRef::Mapped(r.h1, (r.x % 3) as i8),
            len: page(r.y, 2) + PAGE_SIZE,
        },
        14 => Op::Protect {
            vmar: HandleRef::Vmar(0),
            options: if f.is_multiple_of(2) {
                ZX_VM_PERM_READ
            } else {
                ZX_VM_PERM_READ | ZX_VM_PERM_WRITE
            },
            addr: AddrRef::Mapped(r.h1, 0),
            len: page(r.y, 2) + PAGE_SIZE,
        },
        _ if f.is_multiple_of(4) => Op::FailAfter {
            frames: ((f >> 2) % 3) as u8,
        },
        _ => Op::Touch {
            addr: AddrRef::Mapped(r.h2, (r.y % 4) as i8),
            access: Access::Read,
            value: 0,
        },
    }
}
