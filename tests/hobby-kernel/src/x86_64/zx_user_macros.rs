//! The assembly macros of the restricted-mode program (`zx_user`):
//! checks reported through the host's `check` call, entering restricted
//! mode, the checks every exit gets at the vector, and state-field stores.
//! Each expands to a string for `global_asm!`, naming the program's
//! operands (`{host_check}`, `{g_cont}`, ...) by name.

/// A check: `got` and `want` are operands (`mov`-able into `rsi` / `rdx`;
/// `want` must not name `rsi`). Clobbers `rax`, `rcx`, `rdx`, `rsi`,
/// `rdi`, `r11`.
macro_rules! check {
    ($name:expr, $got:expr, $want:expr) => {
        concat!(
            "mov rsi, ",
            $got,
            "\n",
            "mov rdx, ",
            $want,
            "\n",
            "jmp 9f\n",
            "8: .asciz \"",
            $name,
            "\"\n",
            "9: lea rdi, [rip + 8b]\n",
            "mov eax, {host_check}\n",
            "syscall\n",
        )
    };
}

/// Enters restricted mode with the state in the state VMO, the common
/// vector and context `G`; the vector continues at `$cont`.
macro_rules! enter {
    ($cont:literal) => {
        concat!(
            "lea rax, [rip + ",
            $cont,
            "]\n",
            "mov [r15 + {g_cont}], rax\n",
            "xor edi, edi\n",
            "lea rsi, [rip + hk_zx_vector]\n",
            "mov rdx, r15\n",
            "mov eax, {sys_enter}\n",
            "syscall\n",
            "jmp hk_zx_enter_failed\n",
        )
    };
}

/// The reason of the last exit, and one check that the vector was entered
/// as the spec says: `rdi` = context, every other register 0, RFLAGS = IF,
/// the normal FS/GS base back.
macro_rules! exit_checks {
    ($what:literal, $reason:literal) => {
        concat!(
            check!(
                concat!($what, ": reason ", $reason),
                "qword ptr [r15 + {g_v_reason}]",
                concat!("{reason_", $reason, "}")
            ),
            "mov rax, [r15 + {g_v_ctx}]\n",
            "xor rax, r15\n",
            "or rax, [r15 + {g_v_or}]\n",
            "mov rcx, [r15 + {g_v_flags}]\n",
            "xor rcx, {vector_flags}\n",
            "or rax, rcx\n",
            "mov rcx, {ntls0}\n",
            "xor rcx, [r15 + {g_v_tls0}]\n",
            "or rax, rcx\n",
            "mov rcx, {ntls1}\n",
            "xor rcx, [r15 + {g_v_tls1}]\n",
            "or rax, rcx\n",
            check!(
                concat!(
                    $what,
                    ": vector entered with rdi = context, other registers 0, normal FS/GS"
                ),
                "rax",
                "0"
            ),
        )
    };
}

/// A saved register that restricted code inverted (`not`).
macro_rules! check_inverted {
    ($reg:literal, $field:literal, $inverted:literal) => {
        check!(
            concat!("syscall exit: saved ", $reg, " = NOT the loaded value"),
            concat!("qword ptr [rbx + {s_", $field, "}]"),
            concat!("{", $inverted, "}")
        )
    };
}

/// Stores a 64-bit constant into a state field.
macro_rules! set_state {
    ($field:literal, $value:literal) => {
        concat!(
            "mov rax, {",
            $value,
            "}\n",
            "mov [rbx + {s_",
            $field,
            "}], rax\n",
        )
    };
}
