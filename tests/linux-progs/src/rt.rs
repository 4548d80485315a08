//! Start-up: the `_start` entry, the initial stack, and the panic handler.
//!
//! Linux starts a static `ET_EXEC` at `e_entry` with the stack pointer on
//! `argc`, followed by the `argv` pointers and a NULL, the `envp` pointers
//! and a NULL, then the auxiliary vector (`(type, value)` pairs ending with
//! `AT_NULL`). The stack pointer is 16-byte aligned (both psABIs); the
//! other registers hold nothing a program may rely on (x86_64: `rdx` may
//! hold an `atexit` function from a dynamic loader; there is none here).
//!
//! A program says `linux_progs::entry!(main)` with `fn main(&Args) -> i32`:
//! the macro emits `_start`, which passes the stack pointer to
//! [`start`], which calls `main` and ends the process with
//! `exit_group(main's result)`.

use core::ffi::CStr;

use crate::sys;

/// `AT_PAGESZ`: the page size.
pub const AT_PAGESZ: usize = 6;
/// `AT_ENTRY`: the program's entry point.
pub const AT_ENTRY: usize = 9;
/// `AT_RANDOM`: 16 random bytes.
pub const AT_RANDOM: usize = 25;

/// The initial stack, as Linux laid it out.
pub struct Args {
    argc: usize,
    argv: *const *const u8,
    envp: *const *const u8,
    auxv: *const [usize; 2],
}

impl Args {
    /// Reads the initial stack at `sp`.
    ///
    /// # Safety
    ///
    /// `sp` must be the stack pointer Linux started the process with (or
    /// point to a block laid out the same way), and that memory must stay
    /// as it is for as long as the `Args` is used.
    pub unsafe fn from_stack(sp: *const usize) -> Args {
        // SAFETY: by the caller's promise, `sp` points to argc, followed
        // by argc + 1 argv pointers, the envp pointers up to a NULL, and
        // the auxiliary vector.
        unsafe {
            let argc = *sp;
            let argv = sp.add(1) as *const *const u8;
            let envp = argv.add(argc + 1);
            let mut p = envp;
            while !(*p).is_null() {
                p = p.add(1);
            }
            let auxv = p.add(1) as *const [usize; 2];
            Args {
                argc,
                argv,
                envp,
                auxv,
            }
        }
    }

    /// The number of arguments.
    pub fn argc(&self) -> usize {
        self.argc
    }

    /// Argument `i` without its NUL, if there is one.
    pub fn arg(&self, i: usize) -> Option<&[u8]> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: `from_stack`'s contract: argv[0..argc] are pointers to
        // NUL-terminated strings that stay in place.
        unsafe { Some(CStr::from_ptr((*self.argv.add(i)).cast()).to_bytes()) }
    }

    /// The environment's entries (`NAME=value`), in order.
    pub fn env(&self) -> impl Iterator<Item = &[u8]> {
        let mut p = self.envp;
        core::iter::from_fn(move || {
            // SAFETY: `from_stack` found the NULL that ends envp, so every
            // pointer read before it is a NUL-terminated string.
            unsafe {
                let s = *p;
                if s.is_null() {
                    return None;
                }
                p = p.add(1);
                Some(CStr::from_ptr(s.cast()).to_bytes())
            }
        })
    }

    /// The value of auxiliary-vector entry `key`, if present.
    pub fn aux(&self, key: usize) -> Option<usize> {
        let mut p = self.auxv;
        loop {
            // SAFETY: `from_stack`'s contract: the vector ends with an
            // AT_NULL (type 0) entry, which stops the walk.
            let [k, v] = unsafe { *p };
            if k == 0 {
                return None;
            }
            if k == key {
                return Some(v);
            }
            // SAFETY: not past AT_NULL yet (checked above).
            p = unsafe { p.add(1) };
        }
    }
}

/// Called by `_start` with the initial stack pointer: runs `main` and
/// exits with its result.
///
/// # Safety
///
/// `sp` must be the initial stack pointer (see [`Args::from_stack`]).
pub unsafe fn start(sp: *const usize, main: fn(&Args) -> i32) -> ! {
    // SAFETY: forwarded to the caller; the initial stack block stays in
    // place for the life of the process.
    let args = unsafe { Args::from_stack(sp) };
    sys::exit_group(main(&args))
}

/// Emits `_start` for a program whose `main` is `fn(&Args) -> i32`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[cfg(all(target_os = "none", target_arch = "x86_64"))]
        core::arch::global_asm!(
            ".section .text._start, \"ax\"",
            ".globl _start",
            "_start:",
            "xor ebp, ebp",
            "mov rdi, rsp",
            "and rsp, -16",
            "call {start}",
            "ud2",
            start = sym __linux_progs_start,
        );
        #[cfg(all(target_os = "none", target_arch = "aarch64"))]
        core::arch::global_asm!(
            ".section .text._start, \"ax\"",
            ".globl _start",
            "_start:",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, sp",
            "bl {start}",
            "udf #0",
            start = sym __linux_progs_start,
        );
        extern "C" fn __linux_progs_start(sp: *const usize) -> ! {
            // SAFETY: only `_start` calls this, with the stack pointer
            // Linux started the process with.
            unsafe { $crate::rt::start(sp, $main) }
        }
    };
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write as _;
    let mut out = crate::out::Out::new(1);
    let _ = writeln!(out, "not ok - panicked: {}", info.message());
    if let Some(l) = info.location() {
        let _ = writeln!(out, "# at {}:{}", l.file(), l.line());
    }
    out.flush();
    sys::exit_group(101)
}
