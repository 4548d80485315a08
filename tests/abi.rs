//! The ABI module against Zircon's public headers: `errors.h` and
//! `rights.h` here, the rest in `tests/abi_types.rs`.
//!
//! Every expected value below is typed in by hand from the header, in the
//! header's own spelling where it has one (`1u << 21`, `0x208u`, `-10`), so a
//! changed constant in `src/abi` fails here. Sources (all under
//! `zircon/system/public/zircon/`):
//!
//! - `errors.h`: gnoliyil/fuchsia@26dba52e8f9364914b93c06d9cf5dc0116923759
//! - `rights.h`: misttech/fuchsia@524356226a159155a5c2d1132469f2e095fd41b3
//! - `types.h`: misttech/fuchsia@03230340a3a9a1cf6378f23c9a0eb9666cea1c53
//! - `syscalls/policy.h`, `syscalls/exception.h`:
//!   misttech/fuchsia@95731558484eaf8fcd93064f5f993b25caa44860
//! - `syscalls/object.h`: misttech/fuchsia@74df2e1a728a31cc86d6c4b667216f3a5ad77bae
//! - `syscalls-next.h`: misttech/fuchsia@01648b3d5a3de50bf89834588968da5368749adf
//!
//! The alignment decoding follows `split_syscall_flags` in
//! `zircon/kernel/object/vm_address_region_dispatcher.cc`
//! (misttech/fuchsia@162d6af39d3e22850a2af4d112cfa847cd525145).
#![cfg(feature = "sim")]

mod abihelp;

use abihelp::check;
use zx_subsystem::abi::*;

// ---------------------------------------------------------------- errors.h

/// (name, header value) for every status of `errors.h`, in header order.
const STATUSES: &[(&str, i32)] = &[
    ("ZX_OK", 0),
    ("ZX_ERR_INTERNAL", -1),
    ("ZX_ERR_NOT_SUPPORTED", -2),
    ("ZX_ERR_NO_RESOURCES", -3),
    ("ZX_ERR_NO_MEMORY", -4),
    ("ZX_ERR_INTERNAL_INTR_RETRY", -6),
    ("ZX_ERR_INVALID_ARGS", -10),
    ("ZX_ERR_BAD_HANDLE", -11),
    ("ZX_ERR_WRONG_TYPE", -12),
    ("ZX_ERR_BAD_SYSCALL", -13),
    ("ZX_ERR_OUT_OF_RANGE", -14),
    ("ZX_ERR_BUFFER_TOO_SMALL", -15),
    ("ZX_ERR_BAD_STATE", -20),
    ("ZX_ERR_TIMED_OUT", -21),
    ("ZX_ERR_SHOULD_WAIT", -22),
    ("ZX_ERR_CANCELED", -23),
    ("ZX_ERR_PEER_CLOSED", -24),
    ("ZX_ERR_NOT_FOUND", -25),
    ("ZX_ERR_ALREADY_EXISTS", -26),
    ("ZX_ERR_ALREADY_BOUND", -27),
    ("ZX_ERR_UNAVAILABLE", -28),
    ("ZX_ERR_ACCESS_DENIED", -30),
    ("ZX_ERR_IO", -40),
    ("ZX_ERR_IO_REFUSED", -41),
    ("ZX_ERR_IO_DATA_INTEGRITY", -42),
    ("ZX_ERR_IO_DATA_LOSS", -43),
    ("ZX_ERR_IO_NOT_PRESENT", -44),
    ("ZX_ERR_IO_OVERRUN", -45),
    ("ZX_ERR_IO_MISSED_DEADLINE", -46),
    ("ZX_ERR_IO_INVALID", -47),
    ("ZX_ERR_BAD_PATH", -50),
    ("ZX_ERR_NOT_DIR", -51),
    ("ZX_ERR_NOT_FILE", -52),
    ("ZX_ERR_FILE_BIG", -53),
    ("ZX_ERR_NO_SPACE", -54),
    ("ZX_ERR_NOT_EMPTY", -55),
    ("ZX_ERR_STOP", -60),
    ("ZX_ERR_NEXT", -61),
    ("ZX_ERR_ASYNC", -62),
    ("ZX_ERR_PROTOCOL_NOT_SUPPORTED", -70),
    ("ZX_ERR_ADDRESS_UNREACHABLE", -71),
    ("ZX_ERR_ADDRESS_IN_USE", -72),
    ("ZX_ERR_NOT_CONNECTED", -73),
    ("ZX_ERR_CONNECTION_REFUSED", -74),
    ("ZX_ERR_CONNECTION_RESET", -75),
    ("ZX_ERR_CONNECTION_ABORTED", -76),
    ("ZX_ERR_INTERNAL_INTR_KILLED", -502),
];

#[test]
fn status_constants() {
    check(
        "errors.h",
        rows![
            ZX_OK => 0,
            ZX_ERR_INTERNAL => -1,
            ZX_ERR_NOT_SUPPORTED => -2,
            ZX_ERR_NO_RESOURCES => -3,
            ZX_ERR_NO_MEMORY => -4,
            ZX_ERR_INTERNAL_INTR_RETRY => -6,
            ZX_ERR_INVALID_ARGS => -10,
            ZX_ERR_BAD_HANDLE => -11,
            ZX_ERR_WRONG_TYPE => -12,
            ZX_ERR_BAD_SYSCALL => -13,
            ZX_ERR_OUT_OF_RANGE => -14,
            ZX_ERR_BUFFER_TOO_SMALL => -15,
            ZX_ERR_BAD_STATE => -20,
            ZX_ERR_TIMED_OUT => -21,
            ZX_ERR_SHOULD_WAIT => -22,
            ZX_ERR_CANCELED => -23,
            ZX_ERR_PEER_CLOSED => -24,
            ZX_ERR_NOT_FOUND => -25,
            ZX_ERR_ALREADY_EXISTS => -26,
            ZX_ERR_ALREADY_BOUND => -27,
            ZX_ERR_UNAVAILABLE => -28,
            ZX_ERR_ACCESS_DENIED => -30,
            ZX_ERR_IO => -40,
            ZX_ERR_IO_REFUSED => -41,
            ZX_ERR_IO_DATA_INTEGRITY => -42,
            ZX_ERR_IO_DATA_LOSS => -43,
            ZX_ERR_IO_NOT_PRESENT => -44,
            ZX_ERR_IO_OVERRUN => -45,
            ZX_ERR_IO_MISSED_DEADLINE => -46,
            ZX_ERR_IO_INVALID => -47,
            ZX_ERR_BAD_PATH => -50,
            ZX_ERR_NOT_DIR => -51,
            ZX_ERR_NOT_FILE => -52,
            ZX_ERR_FILE_BIG => -53,
            ZX_ERR_NO_SPACE => -54,
            ZX_ERR_NOT_EMPTY => -55,
            ZX_ERR_STOP => -60,
            ZX_ERR_NEXT => -61,
            ZX_ERR_ASYNC => -62,
            ZX_ERR_PROTOCOL_NOT_SUPPORTED => -70,
            ZX_ERR_ADDRESS_UNREACHABLE => -71,
            ZX_ERR_ADDRESS_IN_USE => -72,
            ZX_ERR_NOT_CONNECTED => -73,
            ZX_ERR_CONNECTION_REFUSED => -74,
            ZX_ERR_CONNECTION_RESET => -75,
            ZX_ERR_CONNECTION_ABORTED => -76,
            ZX_ERR_INTERNAL_INTR_KILLED => -502,
        ],
    );
}

#[test]
fn status_round_trips() {
    // Status::ALL is exactly the header's list, in header order.
    assert_eq!(Status::ALL.len(), STATUSES.len());
    for (&status, &(name, raw)) in Status::ALL.iter().zip(STATUSES) {
        assert_eq!(status.into_raw(), raw, "{name}");
        assert_eq!(zx_status_t::from(status), raw, "{name}");
        assert_eq!(status.name(), name);
        assert_eq!(format!("{status}"), name);
        assert_eq!(Status::try_from(raw), Ok(status), "{name}");
    }
}

#[test]
fn unknown_statuses_are_rejected() {
    let known = |v: i32| STATUSES.iter().any(|&(_, raw)| raw == v);
    let mut probes: Vec<i32> = (-1100..=1100).collect();
    probes.extend([
        i32::MIN,
        i32::MIN + 1,
        i32::MAX,
        -(1 << 30),
        -(1 << 30) - 1,
        1 << 30,
    ]);
    for v in probes {
        if known(v) {
            continue;
        }
        assert_eq!(Status::try_from(v), Err(UnknownStatus(v)), "{v}");
    }
    // The holes inside the header's ranges in particular.
    for v in [
        -5, -7, -8, -9, -16, -19, -29, -31, -39, -48, -56, -63, -77, -501, -503,
    ] {
        assert!(Status::try_from(v).is_err(), "{v}");
    }
}

// ---------------------------------------------------------------- rights.h

#[test]
fn rights_constants() {
    check(
        "rights.h",
        rows![
            ZX_RIGHT_NONE => 0u32,
            ZX_RIGHT_DUPLICATE => 1u32 << 0,
            ZX_RIGHT_TRANSFER => 1u32 << 1,
            ZX_RIGHT_READ => 1u32 << 2,
            ZX_RIGHT_WRITE => 1u32 << 3,
            ZX_RIGHT_EXECUTE => 1u32 << 4,
            ZX_RIGHT_MAP => 1u32 << 5,
            ZX_RIGHT_GET_PROPERTY => 1u32 << 6,
            ZX_RIGHT_SET_PROPERTY => 1u32 << 7,
            ZX_RIGHT_ENUMERATE => 1u32 << 8,
            ZX_RIGHT_DESTROY => 1u32 << 9,
            ZX_RIGHT_SET_POLICY => 1u32 << 10,
            ZX_RIGHT_GET_POLICY => 1u32 << 11,
            ZX_RIGHT_SIGNAL => 1u32 << 12,
            ZX_RIGHT_SIGNAL_PEER => 1u32 << 13,
            ZX_RIGHT_WAIT => 1u32 << 14,
            ZX_RIGHT_INSPECT => 1u32 << 15,
            ZX_RIGHT_MANAGE_JOB => 1u32 << 16,
            ZX_RIGHT_MANAGE_PROCESS => 1u32 << 17,
            ZX_RIGHT_MANAGE_THREAD => 1u32 << 18,
            ZX_RIGHT_APPLY_PROFILE => 1u32 << 19,
            ZX_RIGHT_MANAGE_SOCKET => 1u32 << 20,
            // The header says 1 << 21; the project SPEC's "1 << 22" is the
            // header's ZX_RIGHT_RESIZE. The header wins.
            ZX_RIGHT_OP_CHILDREN => 1u32 << 21,
            ZX_RIGHT_RESIZE => 1u32 << 22,
            ZX_RIGHT_ATTACH_VMO => 1u32 << 23,
            ZX_RIGHT_MANAGE_VMO => 1u32 << 24,
            ZX_RIGHT_SAME_RIGHTS => 1u32 << 31,
        ],
    );
}

#[test]
fn rights_flags_match_raw_constants() {
    let pairs = [
        (Rights::DUPLICATE, ZX_RIGHT_DUPLICATE),
        (Rights::TRANSFER, ZX_RIGHT_TRANSFER),
        (Rights::READ, ZX_RIGHT_READ),
        (Rights::WRITE, ZX_RIGHT_WRITE),
        (Rights::EXECUTE, ZX_RIGHT_EXECUTE),
        (Rights::MAP, ZX_RIGHT_MAP),
        (Rights::GET_PROPERTY, ZX_RIGHT_GET_PROPERTY),
        (Rights::SET_PROPERTY, ZX_RIGHT_SET_PROPERTY),
        (Rights::ENUMERATE, ZX_RIGHT_ENUMERATE),
        (Rights::DESTROY, ZX_RIGHT_DESTROY),
        (Rights::SET_POLICY, ZX_RIGHT_SET_POLICY),
        (Rights::GET_POLICY, ZX_RIGHT_GET_POLICY),
        (Rights::SIGNAL, ZX_RIGHT_SIGNAL),
        (Rights::SIGNAL_PEER, ZX_RIGHT_SIGNAL_PEER),
        (Rights::WAIT, ZX_RIGHT_WAIT),
        (Rights::INSPECT, ZX_RIGHT_INSPECT),
        (Rights::MANAGE_JOB, ZX_RIGHT_MANAGE_JOB),
        (Rights::MANAGE_PROCESS, ZX_RIGHT_MANAGE_PROCESS),
        (Rights::MANAGE_THREAD, ZX_RIGHT_MANAGE_THREAD),
        (Rights::APPLY_PROFILE, ZX_RIGHT_APPLY_PROFILE),
        (Rights::MANAGE_SOCKET, ZX_RIGHT_MANAGE_SOCKET),
        (Rights::OP_CHILDREN, ZX_RIGHT_OP_CHILDREN),
        (Rights::RESIZE, ZX_RIGHT_RESIZE),
        (Rights::ATTACH_VMO, ZX_RIGHT_ATTACH_VMO),
        (Rights::MANAGE_VMO, ZX_RIGHT_MANAGE_VMO),
    ];
    for (flag, raw) in pairs {
        assert_eq!(flag.bits(), raw, "{flag:?}");
    }
    // SAME_RIGHTS is a duplicate/replace argument, not a right.
    assert!(!Rights::all().contains(Rights::from_bits_retain(ZX_RIGHT_SAME_RIGHTS)));
}

#[test]
fn default_rights_composition() {
    // The header's macros, spelled with literal bits, and the resulting
    // numbers.
    let basic = (1u32 << 1) | (1 << 0) | (1 << 14) | (1 << 15); // TRANSFER|DUPLICATE|WAIT|INSPECT
    let io = (1u32 << 2) | (1 << 3);
    let property = (1u32 << 6) | (1 << 7);
    let policy = (1u32 << 11) | (1 << 10);
    let (map, enumerate, destroy, signal) = (1u32 << 5, 1u32 << 8, 1u32 << 9, 1u32 << 12);
    let (manage_job, manage_process, manage_thread) = (1u32 << 16, 1u32 << 17, 1u32 << 18);
    let op_children = 1u32 << 21;
    let wait = 1u32 << 14;

    let groups = [
        ("ZX_RIGHTS_BASIC", Rights::BASIC, basic, 0xc003),
        ("ZX_RIGHTS_IO", Rights::IO, io, 0xc),
        ("ZX_RIGHTS_PROPERTY", Rights::PROPERTY, property, 0xc0),
        ("ZX_RIGHTS_POLICY", Rights::POLICY, policy, 0xc00),
        (
            "ZX_DEFAULT_VMO_RIGHTS",
            Rights::DEFAULT_VMO,
            basic | io | property | map | signal,
            0xd0ef,
        ),
        (
            "ZX_DEFAULT_VMAR_RIGHTS",
            Rights::DEFAULT_VMAR,
            (basic & !wait) | op_children,
            0x20_8003,
        ),
        (
            "ZX_DEFAULT_THREAD_RIGHTS",
            Rights::DEFAULT_THREAD,
            basic | io | property | destroy | signal | manage_thread,
            0x4_d2cf,
        ),
        (
            "ZX_DEFAULT_PROCESS_RIGHTS",
            Rights::DEFAULT_PROCESS,
            basic | io | property | enumerate | destroy | signal | manage_process | manage_thread,
            0x6_d3cf,
        ),
        (
            "ZX_DEFAULT_JOB_RIGHTS",
            Rights::DEFAULT_JOB,
            basic
                | io
                | property
                | policy
                | enumerate
                | destroy
                | signal
                | manage_job
                | manage_process
                | manage_thread,
            0x7_dfcf,
        ),
    ];
    for (name, ours, macro_value, number) in groups {
        assert_eq!(macro_value, number, "{name}: the test's own arithmetic");
        assert_eq!(ours.bits(), number, "{name}");
    }

    // The properties the rest of the crate relies on.
    assert!(!Rights::DEFAULT_VMO.contains(Rights::RESIZE));
    assert!(!Rights::DEFAULT_VMO.contains(Rights::EXECUTE));
    assert!(Rights::DEFAULT_VMAR.contains(Rights::OP_CHILDREN));
    assert!(!Rights::DEFAULT_VMAR.intersects(Rights::IO | Rights::EXECUTE | Rights::WAIT));
    assert!(Rights::DEFAULT_THREAD.contains(Rights::MANAGE_THREAD));
}
