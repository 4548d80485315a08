//! COM1 (I/O port 0x3f8), 115200 8N1: the kernel's console.

use core::fmt;

use super::cpu::{inb, outb};

const COM1: u16 = 0x3f8;

/// Programs the UART: no interrupts, 115200 baud, 8N1, FIFOs on.
pub fn init() {
    // SAFETY: COM1's registers affect only the serial line.
    unsafe {
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x80);
        outb(COM1, 0x01);
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x03);
        outb(COM1 + 2, 0xc7);
        outb(COM1 + 4, 0x0b);
    }
}

fn put(byte: u8) {
    // SAFETY: polling the line status and writing the data register of
    // COM1 affect only the serial line.
    unsafe {
        while inb(COM1 + 5) & 0x20 == 0 {}
        outb(COM1, byte);
    }
}

/// Writes to COM1.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(put);
        Ok(())
    }
}
