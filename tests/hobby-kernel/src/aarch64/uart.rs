//! The PL011 UART of `-M virt` (physical 0x0900_0000): the console.

use core::fmt;

use super::paging::KERNEL_VMA;

const UART: u64 = KERNEL_VMA + 0x0900_0000;
const DR: u64 = 0x00;
const FR: u64 = 0x18;
const FR_TXFF: u32 = 1 << 5;

fn put(byte: u8) {
    // SAFETY: the UART's registers are mapped as device memory in the
    // boot tables for the kernel's whole life; polling FR and writing DR
    // only affect the serial line.
    unsafe {
        while ((UART + FR) as *const u32).read_volatile() & FR_TXFF != 0 {}
        ((UART + DR) as *mut u32).write_volatile(u32::from(byte));
    }
}

/// Writes to the PL011.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(put);
        Ok(())
    }
}
