//! The ABI module against Zircon's public headers, continued from
//! `tests/abi.rs` (errors and rights are there): `types.h` (handles, object
//! types, VM options and the alignment decoding, VMOs), `syscalls/policy.h`,
//! `syscalls/object.h` and `syscalls/exception.h`, with the same rules and
//! sources (listed in `tests/abi.rs`).
#![cfg(feature = "sim")]

mod abihelp;

use core::mem::{offset_of, size_of};

use abihelp::check;
use zx_subsystem::abi::*;

// ---------------------------------------------------------------- types.h

#[test]
fn handle_and_koid_constants() {
    check(
        "types.h handles/koids",
        rows![
            ZX_HANDLE_INVALID => 0u32,
            ZX_HANDLE_FIXED_BITS_MASK => 0x3u32,
            ZX_KOID_INVALID => 0u64,
            ZX_KOID_KERNEL => 1u64,
            ZX_KOID_FIRST => 1024u64,
        ],
    );
}

#[test]
fn object_type_constants() {
    check(
        "types.h ZX_OBJ_TYPE_*",
        rows![
            ZX_OBJ_TYPE_NONE => 0u32,
            ZX_OBJ_TYPE_PROCESS => 1u32,
            ZX_OBJ_TYPE_THREAD => 2u32,
            ZX_OBJ_TYPE_VMO => 3u32,
            ZX_OBJ_TYPE_CHANNEL => 4u32,
            ZX_OBJ_TYPE_EVENT => 5u32,
            ZX_OBJ_TYPE_PORT => 6u32,
            ZX_OBJ_TYPE_JOB => 17u32,
            ZX_OBJ_TYPE_VMAR => 18u32,
        ],
    );
    let kinds = [
        (ObjectType::Process, 1u32),
        (ObjectType::Thread, 2),
        (ObjectType::Vmo, 3),
        (ObjectType::Job, 17),
        (ObjectType::Vmar, 18),
    ];
    for (kind, raw) in kinds {
        assert_eq!(kind.into_raw(), raw, "{kind:?}");
    }
}

#[test]
fn vm_option_constants() {
    check(
        "types.h ZX_VM_*",
        rows![
            ZX_VM_PERM_READ => 1u32 << 0,
            ZX_VM_PERM_WRITE => 1u32 << 1,
            ZX_VM_PERM_EXECUTE => 1u32 << 2,
            ZX_VM_COMPACT => 1u32 << 3,
            ZX_VM_SPECIFIC => 1u32 << 4,
            ZX_VM_SPECIFIC_OVERWRITE => 1u32 << 5,
            ZX_VM_CAN_MAP_SPECIFIC => 1u32 << 6,
            ZX_VM_CAN_MAP_READ => 1u32 << 7,
            ZX_VM_CAN_MAP_WRITE => 1u32 << 8,
            ZX_VM_CAN_MAP_EXECUTE => 1u32 << 9,
            ZX_VM_MAP_RANGE => 1u32 << 10,
            ZX_VM_REQUIRE_NON_RESIZABLE => 1u32 << 11,
            ZX_VM_ALLOW_FAULTS => 1u32 << 12,
            ZX_VM_OFFSET_IS_UPPER_LIMIT => 1u32 << 13,
            ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED => 1u32 << 14,
            ZX_VM_FAULT_BEYOND_STREAM_SIZE => 1u32 << 15,
            ZX_VM_ALIGN_BASE => 24u32,
            ZX_VM_ALIGN_1KB => 10u32 << 24,
            ZX_VM_ALIGN_2KB => 11u32 << 24,
            ZX_VM_ALIGN_4KB => 12u32 << 24,
            ZX_VM_ALIGN_8KB => 13u32 << 24,
            ZX_VM_ALIGN_16KB => 14u32 << 24,
            ZX_VM_ALIGN_32KB => 15u32 << 24,
            ZX_VM_ALIGN_64KB => 16u32 << 24,
            ZX_VM_ALIGN_128KB => 17u32 << 24,
            ZX_VM_ALIGN_256KB => 18u32 << 24,
            ZX_VM_ALIGN_512KB => 19u32 << 24,
            ZX_VM_ALIGN_1MB => 20u32 << 24,
            ZX_VM_ALIGN_2MB => 21u32 << 24,
            ZX_VM_ALIGN_4MB => 22u32 << 24,
            ZX_VM_ALIGN_8MB => 23u32 << 24,
            ZX_VM_ALIGN_16MB => 24u32 << 24,
            ZX_VM_ALIGN_32MB => 25u32 << 24,
            ZX_VM_ALIGN_64MB => 26u32 << 24,
            ZX_VM_ALIGN_128MB => 27u32 << 24,
            ZX_VM_ALIGN_256MB => 28u32 << 24,
            ZX_VM_ALIGN_512MB => 29u32 << 24,
            ZX_VM_ALIGN_1GB => 30u32 << 24,
            ZX_VM_ALIGN_2GB => 31u32 << 24,
            ZX_VM_ALIGN_4GB => 32u32 << 24,
            // Kernel decoding (`(uint8_t)(flags >> ZX_VM_ALIGN_BASE)`, valid
            // 0 or 10..=32), not header constants.
            ZX_VM_ALIGN_MASK => 0xff00_0000u32,
            ZX_VM_ALIGN_MIN_LOG2 => 10u32,
            ZX_VM_ALIGN_MAX_LOG2 => 32u32,
        ],
    );
}

#[test]
fn vm_option_flags_match_raw_constants() {
    let pairs = [
        (VmOptions::PERM_READ, ZX_VM_PERM_READ),
        (VmOptions::PERM_WRITE, ZX_VM_PERM_WRITE),
        (VmOptions::PERM_EXECUTE, ZX_VM_PERM_EXECUTE),
        (VmOptions::COMPACT, ZX_VM_COMPACT),
        (VmOptions::SPECIFIC, ZX_VM_SPECIFIC),
        (VmOptions::SPECIFIC_OVERWRITE, ZX_VM_SPECIFIC_OVERWRITE),
        (VmOptions::CAN_MAP_SPECIFIC, ZX_VM_CAN_MAP_SPECIFIC),
        (VmOptions::CAN_MAP_READ, ZX_VM_CAN_MAP_READ),
        (VmOptions::CAN_MAP_WRITE, ZX_VM_CAN_MAP_WRITE),
        (VmOptions::CAN_MAP_EXECUTE, ZX_VM_CAN_MAP_EXECUTE),
        (VmOptions::MAP_RANGE, ZX_VM_MAP_RANGE),
        (
            VmOptions::REQUIRE_NON_RESIZABLE,
            ZX_VM_REQUIRE_NON_RESIZABLE,
        ),
        (VmOptions::ALLOW_FAULTS, ZX_VM_ALLOW_FAULTS),
        (
            VmOptions::OFFSET_IS_UPPER_LIMIT,
            ZX_VM_OFFSET_IS_UPPER_LIMIT,
        ),
        (
            VmOptions::PERM_READ_IF_XOM_UNSUPPORTED,
            ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED,
        ),
        (
            VmOptions::FAULT_BEYOND_STREAM_SIZE,
            ZX_VM_FAULT_BEYOND_STREAM_SIZE,
        ),
        (VmOptions::ALIGN_FIELD, ZX_VM_ALIGN_MASK),
    ];
    for (flag, raw) in pairs {
        assert_eq!(flag.bits(), raw, "{flag:?}");
    }
    assert_eq!(VmOptions::PERMS.bits(), 0b111);
    assert_eq!(VmOptions::CAN_MAP_PERMS.bits(), 0b11_1000_0000);
    // Bits 16..=23 are not defined by the header.
    assert_eq!(VmOptions::all().bits() & 0x00ff_0000, 0);
}

#[test]
fn alignment_decoding() {
    // Every value the 8-bit field can hold, as split_syscall_flags sees it:
    // 0 = none, 10..=32 valid, anything else ZX_ERR_INVALID_ARGS.
    for field in 0u32..=0xff {
        let options = VmOptions::from_bits_retain(field << 24);
        let expected = match field {
            0 => Ok(None),
            10..=32 => Ok(Some(field)),
            _ => Err(InvalidAlignment(field)),
        };
        assert_eq!(options.align_field(), field);
        assert_eq!(options.align_log2(), expected, "field {field}");
        // The low 24 bits never leak into the field.
        let noisy = VmOptions::from_bits_retain((field << 24) | 0x00ff_ffff);
        assert_eq!(noisy.align_log2(), expected, "field {field} with low bits");
    }
    // Each named constant decodes to its log2 (4 GiB included: its value 32
    // sets bit 29, outside a five-bit field).
    let named = [
        (ZX_VM_ALIGN_1KB, 10),
        (ZX_VM_ALIGN_2KB, 11),
        (ZX_VM_ALIGN_4KB, 12),
        (ZX_VM_ALIGN_64KB, 16),
        (ZX_VM_ALIGN_1MB, 20),
        (ZX_VM_ALIGN_2MB, 21),
        (ZX_VM_ALIGN_1GB, 30),
        (ZX_VM_ALIGN_2GB, 31),
        (ZX_VM_ALIGN_4GB, 32),
    ];
    for (raw, log2) in named {
        let options = VmOptions::from_bits_retain(raw | ZX_VM_PERM_READ);
        assert_eq!(options.align_log2(), Ok(Some(log2)), "{raw:#x}");
    }
    // 1 << 31 lands in the field (value 128) and is invalid.
    assert_eq!(
        VmOptions::from_bits_retain(1 << 31).align_log2(),
        Err(InvalidAlignment(128))
    );
    assert_eq!(VmOptions::PERM_READ.align_log2(), Ok(None));
}

#[test]
fn vmo_constants() {
    check(
        "types.h ZX_VMO_* / ZX_VMO_CHILD_*",
        rows![
            ZX_VMO_RESIZABLE => 1u32 << 1,
            ZX_VMO_DISCARDABLE => 1u32 << 2,
            ZX_VMO_TRAP_DIRTY => 1u32 << 3,
            ZX_VMO_UNBOUNDED => 1u32 << 4,
            ZX_VMO_CHILD_SNAPSHOT => 1u32 << 0,
            ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE => 1u32 << 4,
            ZX_VMO_CHILD_RESIZABLE => 1u32 << 2,
            ZX_VMO_CHILD_SLICE => 1u32 << 3,
            ZX_VMO_CHILD_NO_WRITE => 1u32 << 5,
            ZX_VMO_CHILD_REFERENCE => 1u32 << 6,
            ZX_VMO_CHILD_SNAPSHOT_MODIFIED => 1u32 << 7,
        ],
    );
}

// ---------------------------------------------------------------- policy.h

#[test]
fn policy_constants() {
    check(
        "syscalls/policy.h",
        rows![
            ZX_JOB_POL_RELATIVE => 0u32,
            ZX_JOB_POL_ABSOLUTE => 1u32,
            ZX_JOB_POL_BASIC_V1 => 0u32,
            ZX_JOB_POL_BASIC_V2 => 0x0100_0000u32,
            ZX_JOB_POL_TIMER_SLACK => 1u32,
            ZX_POL_BAD_HANDLE => 0u32,
            ZX_POL_WRONG_OBJECT => 1u32,
            ZX_POL_VMAR_WX => 2u32,
            ZX_POL_NEW_ANY => 3u32,
            ZX_POL_NEW_VMO => 4u32,
            ZX_POL_NEW_CHANNEL => 5u32,
            ZX_POL_NEW_EVENT => 6u32,
            ZX_POL_NEW_EVENTPAIR => 7u32,
            ZX_POL_NEW_PORT => 8u32,
            ZX_POL_NEW_SOCKET => 9u32,
            ZX_POL_NEW_FIFO => 10u32,
            ZX_POL_NEW_TIMER => 11u32,
            ZX_POL_NEW_PROCESS => 12u32,
            ZX_POL_NEW_PROFILE => 13u32,
            ZX_POL_NEW_PAGER => 14u32,
            ZX_POL_AMBIENT_MARK_VMO_EXEC => 15u32,
            ZX_POL_NEW_IOB => 16u32,
            ZX_POL_NEW_SAMPLER => 17u32,
            ZX_POL_MAX => 18u32,
            ZX_POL_ACTION_ALLOW => 0u32,
            ZX_POL_ACTION_DENY => 1u32,
            ZX_POL_ACTION_ALLOW_EXCEPTION => 2u32,
            ZX_POL_ACTION_DENY_EXCEPTION => 3u32,
            ZX_POL_ACTION_KILL => 4u32,
            ZX_POL_ACTION_MAX => 5u32,
            ZX_POL_OVERRIDE_ALLOW => 0u32,
            ZX_POL_OVERRIDE_DENY => 1u32,
        ],
    );
}

#[test]
fn policy_layouts() {
    assert_eq!(size_of::<zx_policy_basic_v1_t>(), 8);
    assert_eq!(offset_of!(zx_policy_basic_v1_t, condition), 0);
    assert_eq!(offset_of!(zx_policy_basic_v1_t, policy), 4);
    assert_eq!(size_of::<zx_policy_basic_v2_t>(), 12);
    assert_eq!(offset_of!(zx_policy_basic_v2_t, condition), 0);
    assert_eq!(offset_of!(zx_policy_basic_v2_t, action), 4);
    assert_eq!(offset_of!(zx_policy_basic_v2_t, flags), 8);
}

// ---------------------------------------------------------------- object.h

#[test]
fn info_constants_and_layout() {
    check(
        "syscalls/object.h",
        rows![
            ZX_INFO_NONE => 0u32,
            ZX_INFO_HANDLE_VALID => 1u32,
            ZX_INFO_HANDLE_BASIC => 2u32,
        ],
    );
    assert_eq!(size_of::<zx_info_handle_basic_t>(), 32);
    assert_eq!(offset_of!(zx_info_handle_basic_t, koid), 0);
    assert_eq!(offset_of!(zx_info_handle_basic_t, rights), 8);
    assert_eq!(offset_of!(zx_info_handle_basic_t, type_), 12);
    assert_eq!(offset_of!(zx_info_handle_basic_t, related_koid), 16);
    assert_eq!(offset_of!(zx_info_handle_basic_t, reserved), 24);
    assert_eq!(offset_of!(zx_info_handle_basic_t, padding1), 28);

    let info = zx_info_handle_basic_t {
        koid: 0x1122_3344_5566_7788,
        rights: 0xd0ef,
        type_: 3,
        related_koid: 0x99,
        reserved: 0,
        padding1: [0; 4],
    };
    let bytes = info.as_bytes();
    assert_eq!(bytes.len(), 32);
    assert_eq!(&bytes[0..8], &0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(&bytes[8..12], &0xd0efu32.to_le_bytes());
    assert_eq!(&bytes[12..16], &3u32.to_le_bytes());
    assert_eq!(&bytes[16..24], &0x99u64.to_le_bytes());
    assert_eq!(&bytes[24..32], &[0; 8]);
    assert_eq!(zx_info_handle_basic_t::from_bytes(bytes), Some(info));
    assert_eq!(zx_info_handle_basic_t::from_bytes(&bytes[..31]), None);
}

// ---------------------------------------------------------------- exception.h

#[test]
fn exception_constants() {
    check(
        "syscalls/exception.h",
        rows![
            ZX_EXCP_GENERAL => 0x008u32,
            ZX_EXCP_FATAL_PAGE_FAULT => 0x108u32,
            ZX_EXCP_UNDEFINED_INSTRUCTION => 0x208u32,
            ZX_EXCP_SW_BREAKPOINT => 0x308u32,
            ZX_EXCP_HW_BREAKPOINT => 0x408u32,
            ZX_EXCP_UNALIGNED_ACCESS => 0x508u32,
            ZX_EXCP_SYNTH => 0x8000u32,
            ZX_EXCP_THREAD_STARTING => 0x8008u32,
            ZX_EXCP_THREAD_EXITING => 0x8108u32,
            ZX_EXCP_POLICY_ERROR => 0x8208u32,
            ZX_EXCP_PROCESS_STARTING => 0x8308u32,
            ZX_EXCP_USER => 0x8309u32,
            ZX_EXCEPTION_REPORT_SIZE => 40u32,
        ],
    );
    assert!(zx_excp_is_arch(ZX_EXCP_FATAL_PAGE_FAULT));
    assert!(zx_excp_is_arch(ZX_EXCP_UNDEFINED_INSTRUCTION));
    assert!(!zx_excp_is_arch(ZX_EXCP_POLICY_ERROR));
}

#[test]
fn exception_report_layout() {
    assert_eq!(size_of::<zx_exception_header_t>(), 8);
    assert_eq!(offset_of!(zx_exception_header_t, size), 0);
    assert_eq!(offset_of!(zx_exception_header_t, type_), 4);

    assert_eq!(size_of::<zx_exception_report_t>(), 40);
    assert_eq!(offset_of!(zx_exception_report_t, header), 0);
    assert_eq!(offset_of!(zx_exception_report_t, arch), 8);
    assert_eq!(size_of::<[u64; 3]>(), 24, "the arch union is 24 bytes");
    assert_eq!(offset_of!(zx_exception_report_t, synth_code), 32);
    assert_eq!(offset_of!(zx_exception_report_t, synth_data), 36);
}

#[test]
fn exception_report_x86_64_bytes() {
    // zx_x86_64_exc_data_t: vector at 8, err_code at 16, cr2 at 24.
    let mut report = zx_exception_report_t::x86_64(ZX_EXCP_FATAL_PAGE_FAULT, 14, 0x7, 0xdead_b000);
    report.synth_code = ZX_ERR_ACCESS_DENIED as u32;
    report.synth_data = 0x5a;
    let b = report.as_bytes();
    assert_eq!(&b[0..4], &40u32.to_le_bytes());
    assert_eq!(&b[4..8], &0x108u32.to_le_bytes());
    assert_eq!(&b[8..16], &14u64.to_le_bytes());
    assert_eq!(&b[16..24], &7u64.to_le_bytes());
    assert_eq!(&b[24..32], &0xdead_b000u64.to_le_bytes());
    assert_eq!(&b[32..36], &(-30i32 as u32).to_le_bytes());
    assert_eq!(&b[36..40], &0x5au32.to_le_bytes());
}

#[test]
fn exception_report_arm64_bytes() {
    // zx_arm64_exc_data_t: esr (u32) at 8, padding1[4] at 12, far at 16,
    // padding2[8] at 24.
    let report =
        zx_exception_report_t::arm64(ZX_EXCP_UNDEFINED_INSTRUCTION, 0x0200_0000, 0x1234_5000);
    let b = report.as_bytes();
    assert_eq!(&b[0..4], &40u32.to_le_bytes());
    assert_eq!(&b[4..8], &0x208u32.to_le_bytes());
    assert_eq!(&b[8..12], &0x0200_0000u32.to_le_bytes());
    assert_eq!(&b[12..16], &[0; 4]);
    assert_eq!(&b[16..24], &0x1234_5000u64.to_le_bytes());
    assert_eq!(&b[24..32], &[0; 8]);
    assert_eq!(&b[32..40], &[0; 8]);
    assert_eq!(report.arm64_esr(), 0x0200_0000);
    assert_eq!(report.arm64_far(), 0x1234_5000);
}

// ---------------------------------------------------------------- syscalls-next.h

#[test]
fn restricted_reason_constants() {
    check(
        "syscalls-next.h",
        rows![
            ZX_RESTRICTED_REASON_SYSCALL => 0u64,
            ZX_RESTRICTED_REASON_EXCEPTION => 1u64,
            ZX_RESTRICTED_REASON_KICK => 2u64,
            // misttech/fuchsia@74bc581b0782326de537809e64dac1090fcbfd9b
            ZX_RESTRICTED_REASON_EXCEPTION_LOST => 3u64,
        ],
    );
    assert_eq!(size_of::<zx_restricted_reason_t>(), 8);
}

#[test]
fn restricted_state_x86_64_layout() {
    type S = zx_restricted_state_x86_64_t;
    let offsets = [
        ("rdi", offset_of!(S, rdi), 0),
        ("rsi", offset_of!(S, rsi), 8),
        ("rbp", offset_of!(S, rbp), 16),
        ("rbx", offset_of!(S, rbx), 24),
        ("rdx", offset_of!(S, rdx), 32),
        ("rcx", offset_of!(S, rcx), 40),
        ("rax", offset_of!(S, rax), 48),
        ("rsp", offset_of!(S, rsp), 56),
        ("r8", offset_of!(S, r8), 64),
        ("r9", offset_of!(S, r9), 72),
        ("r10", offset_of!(S, r10), 80),
        ("r11", offset_of!(S, r11), 88),
        ("r12", offset_of!(S, r12), 96),
        ("r13", offset_of!(S, r13), 104),
        ("r14", offset_of!(S, r14), 112),
        ("r15", offset_of!(S, r15), 120),
        ("ip", offset_of!(S, ip), 128),
        ("flags", offset_of!(S, flags), 136),
        ("fs_base", offset_of!(S, fs_base), 144),
        ("gs_base", offset_of!(S, gs_base), 152),
    ];
    for (name, ours, header) in offsets {
        assert_eq!(ours, header, "x86_64 {name}");
    }
    assert_eq!(size_of::<S>(), 160);

    type E = zx_restricted_exception_x86_64_t;
    assert_eq!(size_of::<E>(), 200);
    assert_eq!(offset_of!(E, state), 0);
    assert_eq!(offset_of!(E, exception), 160);
}

#[test]
fn restricted_state_arm64_layout() {
    type S = zx_restricted_state_arm64_t;
    assert_eq!(offset_of!(S, x), 0);
    assert_eq!(size_of::<[u64; 31]>(), 248);
    assert_eq!(offset_of!(S, sp), 248);
    assert_eq!(offset_of!(S, pc), 256);
    assert_eq!(offset_of!(S, tpidr_el0), 264);
    assert_eq!(offset_of!(S, cpsr), 272);
    assert_eq!(size_of::<u32>(), 4, "cpsr is a uint32_t");
    assert_eq!(offset_of!(S, padding1), 276);
    assert_eq!(size_of::<S>(), 280);

    type E = zx_restricted_exception_arm64_t;
    assert_eq!(size_of::<E>(), 320);
    assert_eq!(offset_of!(E, state), 0);
    assert_eq!(offset_of!(E, exception), 280);
}

#[test]
fn restricted_state_bytes() {
    // Register i of the x86_64 state (in header order) lands at 8 * i.
    let mut x86 = zx_restricted_state_x86_64_t::default();
    for (i, byte) in x86.as_bytes_mut().chunks_exact_mut(8).enumerate() {
        byte.copy_from_slice(&(0x100 + i as u64).to_le_bytes());
    }
    assert_eq!(x86.rdi, 0x100);
    assert_eq!(x86.rax, 0x106);
    assert_eq!(x86.rsp, 0x107);
    assert_eq!(x86.r15, 0x10f);
    assert_eq!(x86.ip, 0x110);
    assert_eq!(x86.flags, 0x111);
    assert_eq!(x86.fs_base, 0x112);
    assert_eq!(x86.gs_base, 0x113);

    let mut arm = zx_restricted_state_arm64_t::default();
    arm.x[30] = 0x30;
    arm.sp = 0x5b;
    arm.pc = 0x9c;
    arm.tpidr_el0 = 0x7d;
    arm.cpsr = 0xf000_0000;
    let b = arm.as_bytes();
    assert_eq!(&b[240..248], &0x30u64.to_le_bytes());
    assert_eq!(&b[248..256], &0x5bu64.to_le_bytes());
    assert_eq!(&b[256..264], &0x9cu64.to_le_bytes());
    assert_eq!(&b[264..272], &0x7du64.to_le_bytes());
    assert_eq!(&b[272..276], &0xf000_0000u32.to_le_bytes());
    assert_eq!(&b[276..280], &[0; 4]);
    assert_eq!(zx_restricted_state_arm64_t::from_bytes(b), Some(arm));

    // The report follows the state directly.
    let exc = zx_restricted_exception_arm64_t {
        state: arm,
        exception: zx_exception_report_t::arm64(ZX_EXCP_FATAL_PAGE_FAULT, 0x9200_0047, 0x4000),
    };
    let b = exc.as_bytes();
    assert_eq!(&b[280..284], &40u32.to_le_bytes());
    assert_eq!(&b[284..288], &0x108u32.to_le_bytes());
    assert_eq!(&b[288..292], &0x9200_0047u32.to_le_bytes());
    assert_eq!(&b[296..304], &0x4000u64.to_le_bytes());
}
